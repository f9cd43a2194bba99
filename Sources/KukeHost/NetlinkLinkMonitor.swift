import CKukeSys
import Foundation
import Glibc
import KukeEngine
import Synchronization
import SystemPackage

/// Follows link notifications (`RTNLGRP_LINK`) on its own thread, so a managed bridge
/// deleted by hand is repaired at once rather than at the next resync.
public final class NetlinkLinkMonitor: Sendable {
    /// What the monitor reports.
    public enum Event: Sendable, Equatable {
        /// RTM_DELLINK for this link name.
        case deleted(String)
        /// Notifications were lost (ENOBUFS: the kernel dropped them; or a datagram that could
        /// not be read): the caller should resync.
        case overflow
        /// Receiving fails (the error, once per run of failures and again when it changes); the
        /// monitor retries with backoff (`backoff(failures:)`).
        case failing(String)
        /// Receiving works again after `failing`: notifications of the meantime are lost, so the
        /// caller should resync.
        case recovered
    }

    /// Seconds to wait after the `failures`-th failure in a row: 0.1 s, doubling, at most 30 s.
    static func backoff(failures: Int) -> Double {
        min(30, 0.1 * Double(1 << min(max(failures, 1) - 1, 20)))
    }

    static let linkGroup = UInt32(RTMGRP_LINK)
    /// Opens the transport the thread reads: a `NetlinkSocket` in `RTMGRP_LINK`, or a test's replay.
    let openTransport: @Sendable () throws(HostError) -> any NetlinkTransport
    let wake = WakeSignal()
    let started = Mutex(false)
    let done = DispatchSemaphore(value: 0)

    public convenience init() {
        self.init { () throws(HostError) in try NetlinkSocket(groups: NetlinkLinkMonitor.linkGroup) }
    }

    init(openTransport: @escaping @Sendable () throws(HostError) -> any NetlinkTransport) {
        self.openTransport = openTransport
    }

    /// The events in one datagram of link notifications: the name of each deleted link.
    static func events(in datagram: [UInt8]) throws(HostError) -> [Event] {
        try NetlinkReply.parse(datagram[...]).compactMap { reply in
            guard reply.type == RouteNetlink.deleteLink else { return nil }
            return NetlinkAttributes(reply.payload.dropFirst(16)).string(RouteNetlink.attributeInterfaceName).map { .deleted($0) }
        }
    }

    /// Starts the monitor thread; events go to `sink` from that thread.
    public func start(sink: @escaping @Sendable (Event) -> Void) throws(HostError) {
        let transport = try openTransport()
        // A thread of its own, not a task: it blocks in poll(2) for as long as the watcher runs,
        // and the cooperative pool must never block.
        let thread = Thread { [self] in
            defer { done.signal() }
            // Blocked in poll until the kernel has a notification or `stop()` signals: no timed
            // wake-ups but the backoff after a failed receive.
            var failures = 0
            var reported: String?
            while !wake.isSignaled {
                let datagram: [UInt8]
                do throws(HostError) {
                    guard let received = try transport.receive(orWakeOn: wake) else { break }
                    datagram = received
                } catch {
                    if error.errno == .noBufferSpace {
                        sink(.overflow)
                        continue
                    }
                    failures += 1
                    if reported != error.message {
                        reported = error.message
                        sink(.failing(error.message))
                    }
                    guard wake.sleep(seconds: Self.backoff(failures: failures)) else { break }
                    continue
                }
                if failures > 0 {
                    (failures, reported) = (0, nil)
                    sink(.recovered)
                }
                do throws(HostError) {
                    for event in try Self.events(in: datagram) { sink(event) }
                } catch {
                    sink(.overflow)  // a deletion in it may be lost
                }
            }
        }
        thread.name = "kuke-netlink"
        started.withLock { $0 = true }
        thread.start()
    }

    /// Stops the thread, at once.
    public func stop() {
        wake.signal()
        guard started.withLock({ $0 }) else { return }
        done.wait()
        done.signal()
    }
}
