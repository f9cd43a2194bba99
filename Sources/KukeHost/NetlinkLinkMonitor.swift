import Foundation
import Glibc
import KukeEngine
import Synchronization

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
    let stopping = Mutex(false)
    let started = Mutex(false)
    let done = DispatchSemaphore(value: 0)

    public init() {}

    /// Starts the monitor thread; events go to `sink` from that thread.
    public func start(sink: @escaping @Sendable (Event) -> Void) throws(HostError) {
        let socket = try NetlinkSocket(groups: Self.linkGroup)
        let box = SocketBox(socket: socket)
        let thread = Thread { [self] in
            defer { done.signal() }
            while !stopping.withLock({ $0 }) {
                do throws(HostError) {
                    for reply in try box.socket.receiveNotifications(timeout: 1) where reply.type == RouteNetlink.deleteLink {
                        let attributes = NetlinkAttributes(reply.payload.dropFirst(16))
                        if let name = attributes.string(RouteNetlink.attributeInterfaceName) { sink(.deleted(name)) }
                    }
                } catch {
                    if error.code == "ENOBUFS" { sink(.overflow) } else { usleep(100_000) }
                }
            }
        }
        thread.name = "kuke-netlink"
        started.withLock { $0 = true }
        thread.start()
    }

    /// Stops the thread; returns within about a second.
    public func stop() {
        stopping.withLock { $0 = true }
        guard started.withLock({ $0 }) else { return }
        done.wait()
        done.signal()
    }

    /// Hands the socket to the monitor thread, its only user from then on.
    struct SocketBox: @unchecked Sendable {
        let socket: NetlinkSocket
    }
}
