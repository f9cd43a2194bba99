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
        /// The kernel dropped notifications (ENOBUFS): the caller should resync.
        case overflow
    }

    static let linkGroup: UInt32 = 1  // RTMGRP_LINK
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
        let thread = Thread { [self] in
            defer { done.signal() }
            // Blocked in poll until the kernel has a notification or `stop()` signals: no timed wake-ups.
            while !wake.isSignaled {
                do throws(HostError) {
                    guard let datagram = try transport.receive(orWakeOn: wake) else { break }
                    for event in try Self.events(in: datagram) { sink(event) }
                } catch {
                    if error.errno == .noBufferSpace { sink(.overflow) } else { usleep(100_000) }
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
