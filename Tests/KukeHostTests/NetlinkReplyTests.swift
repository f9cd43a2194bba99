import KukeEngine
import KukeModel
import SystemPackage
import Testing

@testable import KukeHost

/// Replies replayed as the kernel sends them: dumps over several datagrams, interrupted
/// dumps, error acknowledgements, and messages cut short.
@Suite("Netlink replies")
struct NetlinkReplyTests {
    static let bridge = ObservedLink(index: 5, name: "kuke-main-blog", kind: "bridge", isUp: true)

    @Test("a link dump over three datagrams: kinds, up flags, IFLA_MASTER; other sequences and types are skipped")
    func multiPartLinkDump() throws {
        let first = Wire.link(sequence: 2, index: 1, name: "lo", up: true) + Wire.link(sequence: 2, index: 2, name: "eth0", up: false)
        let second =
            Wire.link(sequence: 1, index: 3, name: "stale", up: true)  // an earlier request's reply: not ours
            + Wire.link(sequence: 2, index: 5, name: "kuke-main-blog", up: true, kind: "bridge")
            + Wire.link(sequence: 2, index: 7, name: "veth1", up: true, kind: "veth", master: 5)
            + Wire.link(sequence: 2, index: 8, name: "veth0", up: false, kind: "veth", master: 0)  // IFLA_MASTER 0: no bridge
            + Wire.address(sequence: 2, index: 5, address: [10, 88, 0, 1], prefix: 16)  // not RTM_NEWLINK: skipped
        let replay = ReplayTransport(answers: [[first, second, Wire.done(sequence: 2)]])
        let links = try RouteNetlink(transport: replay).links()
        #expect(
            links == [
                ObservedLink(index: 1, name: "lo", kind: nil, isUp: true),
                ObservedLink(index: 2, name: "eth0", kind: nil, isUp: false),
                Self.bridge,
                ObservedLink(index: 7, name: "veth1", kind: "veth", isUp: true, master: 5),
                ObservedLink(index: 8, name: "veth0", kind: "veth", isUp: false, master: nil),
            ])
        #expect(replay.sent.count == 1)
    }

    @Test("a snapshot: addresses and main-table unicast routes become occupied subnets named by link")
    func snapshot() throws {
        let links = [
            Wire.link(sequence: 2, index: 1, name: "lo", up: true),
            Wire.link(sequence: 2, index: 2, name: "eth0", up: true),
            Wire.link(sequence: 2, index: 5, name: "kuke-main-blog", up: true, kind: "bridge"),
            Wire.done(sequence: 2),
        ]
        let addresses = [
            Wire.address(sequence: 3, index: 1, address: [127, 0, 0, 1], prefix: 8),
            Wire.address(sequence: 3, index: 2, address: [192, 168, 1, 20], prefix: 24),
            Wire.address(sequence: 3, index: 5, address: [10, 88, 0, 1], prefix: 16),
            Wire.address(sequence: 3, family: 10, index: 2, address: [UInt8](repeating: 0xFE, count: 16), prefix: 64),  // AF_INET6
            Wire.address(sequence: 3, index: 99, address: [172, 16, 3, 4], prefix: 12),  // a link not in the dump
            Wire.done(sequence: 3),
        ]
        let routes = [
            Wire.route(sequence: 4, prefix: 0, destination: nil, outputIndex: 2),  // default route: skipped
            Wire.route(sequence: 4, prefix: 24, destination: [192, 168, 1, 0], outputIndex: 2),
            Wire.route(sequence: 4, prefix: 16, destination: [10, 88, 0, 0], tableAttribute: false, outputIndex: 5),  // rtm_table only
            Wire.route(sequence: 4, prefix: 8, destination: [127, 0, 0, 0], table: 255, type: 2, outputIndex: 1),  // local table
            Wire.route(sequence: 4, prefix: 24, destination: [10, 1, 2, 0], table: 1000, outputIndex: 2),  // another table
            Wire.route(sequence: 4, prefix: 24, destination: [10, 9, 9, 0], type: 6),  // RTN_BLACKHOLE: not unicast
            Wire.route(sequence: 4, prefix: 20, destination: [10, 200, 16, 0]),  // no RTA_OIF (multipath)
            Wire.done(sequence: 4),
        ]
        let replay = ReplayTransport(answers: [[links.flatMap { $0 }], [addresses.flatMap { $0 }], [routes.flatMap { $0 }]])
        let snapshot = try NetlinkLinkControl { () throws(HostError) in replay }.snapshot()
        #expect(snapshot.links.keys.sorted() == ["eth0", "kuke-main-blog", "lo"])
        #expect(snapshot.links["kuke-main-blog"] == Self.bridge)
        let occupied = snapshot.occupied.map { "\($0.subnet) \($0.linkName ?? "-")" }
        #expect(
            occupied == [
                "127.0.0.0/8 lo", "192.168.1.0/24 eth0", "10.88.0.0/16 kuke-main-blog", "172.16.0.0/12 -",
                "192.168.1.0/24 eth0", "10.88.0.0/16 kuke-main-blog", "10.200.16.0/20 -",
            ])
    }

    @Test("NLM_F_DUMP_INTR: the dump is sent again with the next sequence and only the clean one counts")
    func interruptedDumpRetried() throws {
        let interrupted = Wire.flagMulti | Wire.flagDumpInterrupted
        let replay = ReplayTransport(answers: [
            [
                Wire.link(sequence: 2, flags: interrupted, index: 5, name: "kuke-main-old", up: true, kind: "bridge"),
                Wire.done(sequence: 2, flags: interrupted),
            ],
            [Wire.link(sequence: 3, index: 5, name: "kuke-main-blog", up: true, kind: "bridge") + Wire.done(sequence: 3)],
        ])
        #expect(try RouteNetlink(transport: replay).links() == [Self.bridge])
        #expect(replay.sent.count == 2)
        #expect(replay.sent.map { Array($0[8..<12]) } == [[2, 0, 0, 0], [3, 0, 0, 0]])
    }

    @Test("NLM_F_DUMP_INTR five times: EINTR, the dump sent five times")
    func interruptedDumpGivesUp() throws {
        let answers = (UInt32(2)...6).map { sequence in
            [Wire.done(sequence: sequence, flags: Wire.flagMulti | Wire.flagDumpInterrupted)]
        }
        let replay = ReplayTransport(answers: answers)
        #expect(throws: HostError("link dump: the kernel kept interrupting the dump (links changing too fast)", errno: .interrupted)) {
            try RouteNetlink(transport: replay).links()
        }
        #expect(replay.sent.count == NetlinkSession.dumpAttempts)
    }

    @Test("an error acknowledgement is mapped to its errno name, with what was attempted")
    func errorAcknowledgements() throws {
        let exists = ReplayTransport(answers: [[Wire.error(17, sequence: 2, requestType: 16)]])  // -EEXIST
        #expect(throws: HostError("bridge \"kuke-main-blog\": create failed: File exists (EEXIST)", errno: .fileExists)) {
            try NetlinkLinkControl { () throws(HostError) in exists }.createBridge("kuke-main-blog")
        }
        let denied = ReplayTransport(answers: [[Wire.error(1, sequence: 2, requestType: 16)]])  // -EPERM
        #expect(throws: HostError("bridge \"br0\": set up failed: Operation not permitted (EPERM)", errno: .notPermitted)) {
            try NetlinkLinkControl { () throws(HostError) in denied }.setUp("br0")
        }
        let invalid = ReplayTransport(answers: [[Wire.error(22, sequence: 2, requestType: 22)]])  // -EINVAL, in place of a dump
        #expect(throws: HostError("address dump: Invalid argument (EINVAL)", errno: .invalidArgument)) {
            try RouteNetlink(transport: invalid).addresses()
        }
    }

    @Test("deleting a link that is gone (ENODEV) succeeds; another request's error is not ours")
    func acknowledgementsBySequence() throws {
        let gone = ReplayTransport(answers: [[Wire.error(19, sequence: 2, requestType: 17)]])  // -ENODEV
        try NetlinkLinkControl { () throws(HostError) in gone }.delete("kuke-main-blog")
        let stale = ReplayTransport(answers: [
            [Wire.error(17, sequence: 1, requestType: 16), Wire.error(0, sequence: 2, requestType: 16)]
        ])
        try NetlinkLinkControl { () throws(HostError) in stale }.createBridge("kuke-main-blog")
    }

    @Test("an error acknowledgement too short to hold its errno is EIO")
    func shortErrorAcknowledgement() throws {
        let short = Wire.message(type: 2, flags: 0, sequence: 2, payload: [0xEF, 0xFF])  // 2 of the 4 bytes of the error
        #expect(throws: HostError("bridge \"br0\": create failed: Input/output error (EIO)", errno: .ioError)) {
            try NetlinkLinkControl { () throws(HostError) in ReplayTransport(answers: [[short]]) }.createBridge("br0")
        }
    }

    /// Datagrams whose last message is cut short, and what kuke says about each.
    static let truncated: [([UInt8], String)] = {
        let link = Wire.link(sequence: 2, index: 5, name: "kuke-main-blog", up: true, kind: "bridge")
        let whole = Wire.link(sequence: 2, index: 1, name: "lo", up: true)
        let shortLength = Wire.u32(8) + Array(link[4...])  // nlmsg_len 8: less than its own header
        return [
            (Array(link.dropLast(8)), "a message of \(link.count) bytes at byte 0 of a \(link.count - 8)-byte datagram"),
            (whole + Array(link.prefix(10)), "10 bytes at byte \(whole.count) of a \(whole.count + 10)-byte datagram, too few for a message header"),
            (shortLength, "a message of 8 bytes at byte 0 of a \(link.count)-byte datagram"),
        ]
    }()

    @Test("a message cut short is refused with where and how long, never read past", arguments: truncated)
    func truncatedMessage(datagram: [UInt8], problem: String) throws {
        let replay = ReplayTransport(answers: [[datagram, Wire.done(sequence: 2)]])
        #expect(throws: HostError("link dump: netlink reply truncated: \(problem)")) {
            try RouteNetlink(transport: replay).links()
        }
    }

    @Test("whole messages with bad contents are skipped, never read past")
    func malformedContents() throws {
        let shortHeader = Wire.message(type: 16, sequence: 2, payload: [0, 0, 1, 0, 5, 0, 0, 0])  // 8 of the 16 bytes of ifinfomsg
        var longName = Wire.link(sequence: 2, index: 6, name: "veth9", up: true)
        longName[32] = 200  // IFLA_IFNAME claims 200 bytes: the attribute runs past its message
        let links = ReplayTransport(answers: [[shortHeader + longName + Wire.done(sequence: 2)]])
        #expect(try RouteNetlink(transport: links).links() == [])

        let badPrefix = Wire.address(sequence: 2, index: 1, address: [10, 0, 0, 1], prefix: 40)
        let shortAddress = Wire.address(sequence: 2, index: 1, address: [10, 0, 0], prefix: 8)  // 3 bytes for an IPv4 address
        let addresses = ReplayTransport(answers: [[badPrefix + shortAddress + Wire.done(sequence: 2)]])
        #expect(try RouteNetlink(transport: addresses).addresses().isEmpty)

        let badRoute = Wire.route(sequence: 2, prefix: 33, destination: [10, 0, 0, 0], outputIndex: 1)
        let routes = ReplayTransport(answers: [[badRoute + Wire.done(sequence: 2)]])
        #expect(try RouteNetlink(transport: routes).routes().isEmpty)
    }

    @Test("a transport failure names the request it broke")
    func transportFailure() throws {
        let silent = ReplayTransport()  // sends, then has nothing to receive
        #expect(throws: HostError("route dump: replay: nothing left to receive", errno: .ioError)) {
            try RouteNetlink(transport: silent).routes()
        }
    }
}
