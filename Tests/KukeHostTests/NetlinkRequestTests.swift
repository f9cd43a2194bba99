import KukeEngine
import Synchronization
import Testing

@testable import KukeHost

/// Every request kuke sends, byte for byte. The expected bytes are written out from the
/// kernel's structs (`struct nlmsghdr`, `struct ifinfomsg`, `struct ifaddrmsg`, `struct rtmsg`,
/// `struct rtattr`), not produced by kuke's builder, so a wrong length, flag, order or pad fails.
@Suite("Netlink requests")
struct NetlinkRequestTests {
    /// A `NetlinkLinkControl` whose every call opens `replay`, counting the opens.
    final class Opener: Sendable {
        let replay: ReplayTransport
        let opened = Mutex(0)

        init(_ replay: ReplayTransport) { self.replay = replay }

        var control: NetlinkLinkControl {
            NetlinkLinkControl { [self] () throws(HostError) in
                opened.withLock { $0 += 1 }
                return replay
            }
        }
    }

    /// An acknowledgement (`NLMSG_ERROR` with error 0) of request `sequence`.
    static func ack(_ sequence: UInt32, requestType: UInt16) -> [UInt8] { Wire.error(0, sequence: sequence, requestType: requestType) }

    @Test("link dump: RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, an empty ifinfomsg")
    func linkDump() throws {
        let replay = ReplayTransport(answers: [[Wire.done(sequence: 2)]])
        #expect(try RouteNetlink(transport: replay).links() == [])
        let expected: [UInt8] = [
            32, 0, 0, 0,  // nlmsg_len: 16 + sizeof(struct ifinfomsg) 16
            18, 0,  // nlmsg_type: RTM_GETLINK
            0x01, 0x03,  // nlmsg_flags: NLM_F_REQUEST 0x1 | NLM_F_DUMP 0x300
            2, 0, 0, 0,  // nlmsg_seq: the first request of a session
            0, 0, 0, 0,  // nlmsg_pid: 0, the kernel fills in ours
            0, 0, 0, 0,  // ifi_family AF_UNSPEC, pad, ifi_type 0
            0, 0, 0, 0,  // ifi_index: all
            0, 0, 0, 0,  // ifi_flags
            0, 0, 0, 0,  // ifi_change
        ]
        #expect(replay.sent == [expected])
    }

    @Test("address dump: RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, an ifaddrmsg for AF_INET")
    func addressDump() throws {
        let replay = ReplayTransport(answers: [[Wire.done(sequence: 2)]])
        #expect(try RouteNetlink(transport: replay).addresses().isEmpty)
        let expected: [UInt8] = [
            24, 0, 0, 0,  // nlmsg_len: 16 + sizeof(struct ifaddrmsg) 8
            22, 0,  // RTM_GETADDR
            0x01, 0x03,  // NLM_F_REQUEST | NLM_F_DUMP
            2, 0, 0, 0,  // seq
            0, 0, 0, 0,  // pid
            2, 0, 0, 0,  // ifa_family AF_INET, ifa_prefixlen, ifa_flags, ifa_scope
            0, 0, 0, 0,  // ifa_index: all
        ]
        #expect(replay.sent == [expected])
    }

    @Test("route dump: RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, an rtmsg for AF_INET")
    func routeDump() throws {
        let replay = ReplayTransport(answers: [[Wire.done(sequence: 2)]])
        #expect(try RouteNetlink(transport: replay).routes().isEmpty)
        let expected: [UInt8] = [
            28, 0, 0, 0,  // nlmsg_len: 16 + sizeof(struct rtmsg) 12
            26, 0,  // RTM_GETROUTE
            0x01, 0x03,  // NLM_F_REQUEST | NLM_F_DUMP
            2, 0, 0, 0,  // seq
            0, 0, 0, 0,  // pid
            2, 0, 0, 0,  // rtm_family AF_INET, rtm_dst_len, rtm_src_len, rtm_tos
            0, 0, 0, 0,  // rtm_table, rtm_protocol, rtm_scope, rtm_type
            0, 0, 0, 0,  // rtm_flags
        ]
        #expect(replay.sent == [expected])
    }

    @Test("a snapshot sends the link, address and route dumps on one socket, numbered 2, 3, 4")
    func snapshotRequests() throws {
        let replay = ReplayTransport(answers: [[Wire.done(sequence: 2)], [Wire.done(sequence: 3)], [Wire.done(sequence: 4)]])
        let opener = Opener(replay)
        #expect(try opener.control.snapshot() == NetworkSnapshot())
        #expect(opener.opened.withLock { $0 } == 1)
        #expect(replay.sent.map { Array($0[4..<6]) } == [[18, 0], [22, 0], [26, 0]])
        #expect(replay.sent.map { Array($0[8..<12]) } == [[2, 0, 0, 0], [3, 0, 0, 0], [4, 0, 0, 0]])
    }

    @Test("create bridge: RTM_NEWLINK with NLM_F_CREATE | NLM_F_EXCL, IFLA_IFNAME, IFLA_LINKINFO { IFLA_INFO_KIND bridge }")
    func createBridge() throws {
        let replay = ReplayTransport(answers: [[Self.ack(2, requestType: 16)]])
        let opener = Opener(replay)
        try opener.control.createBridge("kuke-main-blog")
        let expected: [UInt8] = [
            68, 0, 0, 0,  // nlmsg_len: 16 + 16 + 20 + 16
            16, 0,  // RTM_NEWLINK
            0x05, 0x06,  // NLM_F_REQUEST 0x1 | NLM_F_ACK 0x4 | NLM_F_EXCL 0x200 | NLM_F_CREATE 0x400
            2, 0, 0, 0,  // seq
            0, 0, 0, 0,  // pid
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // struct ifinfomsg, all zero
            19, 0, 3, 0,  // rta_len 4 + 15, IFLA_IFNAME
            0x6B, 0x75, 0x6B, 0x65, 0x2D, 0x6D, 0x61, 0x69, 0x6E, 0x2D, 0x62, 0x6C, 0x6F, 0x67, 0,  // "kuke-main-blog\0"
            0,  // pad to 4
            16, 0, 0x12, 0x80,  // rta_len 4 + 12, IFLA_LINKINFO 18 | NLA_F_NESTED 0x8000
            11, 0, 1, 0,  // rta_len 4 + 7, IFLA_INFO_KIND
            0x62, 0x72, 0x69, 0x64, 0x67, 0x65, 0,  // "bridge\0"
            0,  // pad to 4
        ]
        #expect(replay.sent == [expected])
        #expect(opener.opened.withLock { $0 } == 1)
    }

    @Test("set up: RTM_NEWLINK with IFF_UP in ifi_flags and ifi_change, by name")
    func setUp() throws {
        let replay = ReplayTransport(answers: [[Self.ack(2, requestType: 16)]])
        try Opener(replay).control.setUp("br0")
        let expected: [UInt8] = [
            40, 0, 0, 0,  // nlmsg_len: 16 + 16 + 8
            16, 0,  // RTM_NEWLINK
            0x05, 0x00,  // NLM_F_REQUEST | NLM_F_ACK
            2, 0, 0, 0,  // seq
            0, 0, 0, 0,  // pid
            0, 0, 0, 0,  // ifi_family, pad, ifi_type
            0, 0, 0, 0,  // ifi_index: 0, the link is named below
            1, 0, 0, 0,  // ifi_flags: IFF_UP
            1, 0, 0, 0,  // ifi_change: IFF_UP, the one flag to change
            8, 0, 3, 0,  // rta_len 4 + 4, IFLA_IFNAME
            0x62, 0x72, 0x30, 0,  // "br0\0", no pad needed
        ]
        #expect(replay.sent == [expected])
    }

    @Test("delete link: RTM_DELLINK by name")
    func deleteLink() throws {
        let replay = ReplayTransport(answers: [[Self.ack(2, requestType: 17)]])
        try Opener(replay).control.delete("kuke-main-blog")
        let expected: [UInt8] = [
            52, 0, 0, 0,  // nlmsg_len: 16 + 16 + 20
            17, 0,  // RTM_DELLINK
            0x05, 0x00,  // NLM_F_REQUEST | NLM_F_ACK
            2, 0, 0, 0,  // seq
            0, 0, 0, 0,  // pid
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // struct ifinfomsg, all zero
            19, 0, 3, 0,  // rta_len 4 + 15, IFLA_IFNAME
            0x6B, 0x75, 0x6B, 0x65, 0x2D, 0x6D, 0x61, 0x69, 0x6E, 0x2D, 0x62, 0x6C, 0x6F, 0x67, 0,  // "kuke-main-blog\0"
            0,  // pad to 4
        ]
        #expect(replay.sent == [expected])
    }

    @Test("a link moved into a group by its index alone (no name: that would rename); a group deleted by IFLA_GROUP")
    func groups() throws {
        let replay = ReplayTransport(answers: [[Self.ack(2, requestType: 16)], [Self.ack(3, requestType: 17)]])
        let netlink = RouteNetlink(transport: replay)
        try netlink.setGroup(ObservedLink(index: 5, name: "kuke-main-blog", kind: "bridge", isUp: true), 0x1000_0001)
        try netlink.deleteGroup(0x1000_0001)
        let move: [UInt8] = [
            40, 0, 0, 0,  // nlmsg_len: 16 + 16 + 8
            16, 0,  // RTM_NEWLINK
            0x05, 0x00,  // NLM_F_REQUEST | NLM_F_ACK
            2, 0, 0, 0,  // seq
            0, 0, 0, 0,  // pid
            0, 0, 0, 0,  // ifi_family, pad, ifi_type
            5, 0, 0, 0,  // ifi_index: the link the dump saw
            0, 0, 0, 0, 0, 0, 0, 0,  // ifi_flags, ifi_change: none
            8, 0, 27, 0,  // rta_len 4 + 4, IFLA_GROUP
            1, 0, 0, 0x10,  // group 0x10000001
        ]
        let delete: [UInt8] = [
            40, 0, 0, 0,  // nlmsg_len: 16 + 16 + 8
            17, 0,  // RTM_DELLINK
            0x05, 0x00,  // NLM_F_REQUEST | NLM_F_ACK
            3, 0, 0, 0,  // seq
            0, 0, 0, 0,  // pid
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // struct ifinfomsg, all zero: no index, no name
            8, 0, 27, 0,  // rta_len 4 + 4, IFLA_GROUP
            1, 0, 0, 0x10,  // group 0x10000001
        ]
        #expect(replay.sent == [move, delete])
    }

    @Test("deleting the ports of a bridge: a link dump on one socket, then a socket per delete")
    func deletePorts() throws {
        let links = [
            Wire.link(sequence: 2, index: 5, name: "kuke-main-blog", up: true, kind: "bridge"),
            Wire.link(sequence: 2, index: 7, name: "veth1", up: true, kind: "veth", master: 5),
            Wire.link(sequence: 2, index: 8, name: "veth0", up: true, kind: "veth", master: 5),
            Wire.link(sequence: 2, index: 9, name: "veth2", up: true, kind: "veth"),
            Wire.done(sequence: 2),
        ]
        let replay = ReplayTransport(answers: [[links.flatMap { $0 }], [Self.ack(2, requestType: 17)], [Self.ack(2, requestType: 17)]])
        let opener = Opener(replay)
        try opener.control.deletePorts(of: "kuke-main-blog")
        #expect(opener.opened.withLock { $0 } == 3)
        let deleted = replay.sent.dropFirst().map { NetlinkAttributes($0[32...]).string(RouteNetlink.attributeInterfaceName) }
        #expect(deleted == ["veth0", "veth1"])
    }
}
