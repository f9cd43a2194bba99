import Glibc
import KukeEngine
import Synchronization
import SystemPackage
import Testing

@testable import KukeHost

/// The link monitor on replayed notifications: what it reports and what it survives.
@Suite("Netlink link monitor")
struct NetlinkLinkMonitorTests {
    /// Notifications carry sequence 0 and no `NLM_F_MULTI`.
    static func deleted(_ name: String, index: Int32) -> [UInt8] {
        Wire.link(type: 17, sequence: 0, flags: 0, index: index, name: name, up: false, kind: "bridge")  // RTM_DELLINK
    }

    /// The events the sink received, from the monitor's thread.
    final class EventLog: Sendable {
        let events = Mutex<[NetlinkLinkMonitor.Event]>([])

        /// Waits up to five seconds for `count` events.
        func wait(for count: Int) -> [NetlinkLinkMonitor.Event] {
            for _ in 0..<500 where events.withLock({ $0.count }) < count { usleep(10_000) }
            return events.withLock { $0 }
        }
    }

    @Test("RTM_DELLINK gives the deleted link's name; RTM_NEWLINK and a DELLINK without a name give nothing")
    func deletedLinks() throws {
        let added = Wire.link(type: 16, sequence: 0, flags: 0, index: 5, name: "kuke-main-blog", up: true, kind: "bridge")
        let nameless = Wire.message(type: 17, flags: 0, sequence: 0, payload: [UInt8](repeating: 0, count: 16))
        let datagram = added + Self.deleted("kuke-main-blog", index: 5) + nameless + Self.deleted("veth1", index: 7)
        #expect(try NetlinkLinkMonitor.events(in: datagram) == [.deleted("kuke-main-blog"), .deleted("veth1")])
        #expect(throws: HostError("netlink reply truncated: a message of 64 bytes at byte 0 of a 50-byte datagram")) {
            try NetlinkLinkMonitor.events(in: Array(Self.deleted("br0", index: 3).prefix(50)))
        }
    }

    @Test("the monitor thread reports deletions and ENOBUFS as overflow, survives a cut message, and stops")
    func monitorThread() throws {
        let replay = ReplayTransport(pending: [
            .success(Self.deleted("kuke-main-blog", index: 5)),
            .success(Array(Self.deleted("kuke-main-web", index: 6).prefix(20))),  // cut short: dropped
            .failure(HostError("netlink receive failed: No buffer space available (ENOBUFS)", errno: .noBufferSpace)),
            .success(Self.deleted("kuke-main-db", index: 7)),
        ])
        let monitor = NetlinkLinkMonitor { () throws(HostError) in replay }
        let log = EventLog()
        try monitor.start { event in log.events.withLock { $0.append(event) } }
        let events = log.wait(for: 4)
        monitor.stop()
        // The cut datagram may have held a deletion: it asks for a resync, as ENOBUFS does.
        #expect(events == [.deleted("kuke-main-blog"), .overflow, .overflow, .deleted("kuke-main-db")])
        #expect(replay.sent.isEmpty, "the monitor only listens")
    }

    @Test("a failing receive is reported once per run and retried with backoff; the first success says recovered")
    func failingReceive() throws {
        let failure = HostError("netlink receive failed: Input/output error (EIO)", errno: .ioError)
        let other = HostError("netlink receive failed: Bad file descriptor (EBADF)", errno: .badFileDescriptor)
        let replay = ReplayTransport(pending: [
            .failure(failure), .failure(failure), .failure(other), .success(Self.deleted("kuke-main-blog", index: 5)),
            .failure(failure), .success(Self.deleted("kuke-main-db", index: 7)),
        ])
        let monitor = NetlinkLinkMonitor { () throws(HostError) in replay }
        let log = EventLog()
        try monitor.start { event in log.events.withLock { $0.append(event) } }
        let events = log.wait(for: 7)
        monitor.stop()
        #expect(
            events == [
                .failing(failure.message), .failing(other.message), .recovered, .deleted("kuke-main-blog"), .failing(failure.message),
                .recovered, .deleted("kuke-main-db"),
            ])
        #expect(NetlinkLinkMonitor.backoff(failures: 1) == 0.1)
        #expect(NetlinkLinkMonitor.backoff(failures: 3) == 0.4)
        #expect(NetlinkLinkMonitor.backoff(failures: 9) == 25.6)
        #expect(NetlinkLinkMonitor.backoff(failures: 10) == 30)
        #expect(NetlinkLinkMonitor.backoff(failures: 10_000) == 30)
    }

    @Test("stop ends the backoff at once")
    func stopDuringBackoff() throws {
        let failures = (0..<12).map { _ in Result<[UInt8], HostError>.failure(HostError("netlink receive failed: EIO", errno: .ioError)) }
        let replay = ReplayTransport(pending: failures)
        let monitor = NetlinkLinkMonitor { () throws(HostError) in replay }
        let log = EventLog()
        try monitor.start { event in log.events.withLock { $0.append(event) } }
        #expect(log.wait(for: 1) == [.failing("netlink receive failed: EIO")])
        monitor.stop()  // returns although the backoff would now wait seconds
        #expect(log.events.withLock { $0 } == [.failing("netlink receive failed: EIO")])
    }
}
