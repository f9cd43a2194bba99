import Glibc
import KukeEngine
import Synchronization
import SystemPackage

@testable import KukeHost

/// A `NetlinkTransport` without a kernel: it records every datagram sent and answers each
/// request with the datagrams the test scripted for it, in order. Receiving with nothing
/// left throws instead of blocking, so a reader that wants more than the script fails fast.
final class ReplayTransport: NetlinkTransport {
    private struct State {
        var sent: [[UInt8]] = []
        /// One list of datagrams (or a receive failure) per request still to come.
        var answers: [[Result<[UInt8], HostError>]]
        /// What the next receives return, oldest first.
        var pending: [Result<[UInt8], HostError>]
    }

    private let state: Mutex<State>

    /// - Parameters:
    ///   - answers: the datagrams that answer the first request, the second, …
    ///   - pending: datagrams waiting before any request (link notifications for the monitor).
    init(answers: [[[UInt8]]] = [], pending: [Result<[UInt8], HostError>] = []) {
        state = Mutex(State(answers: answers.map { $0.map { .success($0) } }, pending: pending))
    }

    /// Every datagram sent so far.
    var sent: [[UInt8]] { state.withLock { $0.sent } }

    func send(_ datagram: [UInt8]) throws(HostError) {
        state.withLock { state in
            state.sent.append(datagram)
            if !state.answers.isEmpty { state.pending += state.answers.removeFirst() }
        }
    }

    func receive() throws(HostError) -> [UInt8] {
        let next = state.withLock { $0.pending.isEmpty ? nil : $0.pending.removeFirst() }
        guard let next else { throw HostError("replay: nothing left to receive", errno: .ioError) }
        return try next.get()
    }

    func receive(orWakeOn wake: WakeSignal) throws(HostError) -> [UInt8]? {
        while true {
            if let next = state.withLock({ $0.pending.isEmpty ? nil : $0.pending.removeFirst() }) { return try next.get() }
            if wake.isSignaled { return nil }
            usleep(1000)  // the replay has no descriptor to poll: a short wait for more, or for the wake
        }
    }
}

/// Kernel replies written out field by field, after the structs in `<linux/netlink.h>`,
/// `<linux/rtnetlink.h>` and `<linux/if_link.h>`; little-endian, as on the hosts kuke runs on.
enum Wire {
    static let flagMulti: UInt16 = 0x2  // NLM_F_MULTI
    static let flagDumpInterrupted: UInt16 = 0x10  // NLM_F_DUMP_INTR
    /// The port id the kernel puts in replies to us; kuke never reads it.
    static let portID: UInt32 = 4242

    static func u16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }

    static func u32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) } }

    static func padded(_ bytes: [UInt8]) -> [UInt8] { bytes + [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4) }

    /// `struct nlmsghdr` (len, type, flags, seq, pid) and the payload, padded to 4 bytes.
    static func message(type: UInt16, flags: UInt16 = flagMulti, sequence: UInt32, payload: [UInt8]) -> [UInt8] {
        padded(u32(UInt32(16 + payload.count)) + u16(type) + u16(flags) + u32(sequence) + u32(portID) + payload)
    }

    /// `struct rtattr` (len, type) and the payload, padded to 4 bytes.
    static func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        padded(u16(UInt16(4 + payload.count)) + u16(type) + payload)
    }

    static func string(_ text: String) -> [UInt8] { Array(text.utf8) + [0] }

    /// `NLMSG_DONE`, whose payload is an int (0).
    static func done(sequence: UInt32, flags: UInt16 = flagMulti) -> [UInt8] {
        message(type: 3, flags: flags, sequence: sequence, payload: u32(0))
    }

    /// `NLMSG_ERROR`: `struct nlmsgerr` (int error, then the header of the request).
    static func error(_ errno: Int32, sequence: UInt32, requestType: UInt16) -> [UInt8] {
        let request = u32(0) + u16(requestType) + u16(0x5) + u32(sequence) + u32(0)
        return message(type: 2, flags: 0, sequence: sequence, payload: u32(UInt32(bitPattern: -errno)) + request)
    }

    /// `RTM_NEWLINK` (or `RTM_DELLINK`) with `struct ifinfomsg` and attributes: name, MTU,
    /// the master's index if given, and `IFLA_LINKINFO { IFLA_INFO_KIND }` if given.
    static func link(
        type: UInt16 = 16, sequence: UInt32, flags: UInt16 = flagMulti, index: Int32, name: String, up: Bool,
        kind: String? = nil, master: Int32? = nil
    ) -> [UInt8] {
        // family AF_UNSPEC, pad, ifi_type ARPHRD_ETHER, index, IFF_BROADCAST|IFF_MULTICAST (+ IFF_UP|IFF_RUNNING|IFF_LOWER_UP), change
        var payload: [UInt8] = [0, 0] + u16(1) + u32(UInt32(bitPattern: index)) + u32(up ? 0x1_1043 : 0x1002) + u32(0)
        payload += attribute(3, string(name))  // IFLA_IFNAME
        payload += attribute(4, u32(1500))  // IFLA_MTU: not read, skipped
        if let master { payload += attribute(10, u32(UInt32(bitPattern: master))) }  // IFLA_MASTER
        if let kind { payload += attribute(18, attribute(1, string(kind))) }  // IFLA_LINKINFO { IFLA_INFO_KIND }
        return message(type: type, flags: flags, sequence: sequence, payload: payload)
    }

    /// `RTM_NEWADDR` with `struct ifaddrmsg` (family, prefixlen, flags, scope, index) and
    /// `IFA_ADDRESS` and `IFA_LOCAL` (network byte order).
    static func address(sequence: UInt32, family: UInt8 = 2, index: Int32, address: [UInt8], prefix: UInt8) -> [UInt8] {
        let payload: [UInt8] =
            [family, prefix, 0x80, 0] + u32(UInt32(bitPattern: index))  // IFA_F_PERMANENT, RT_SCOPE_UNIVERSE
            + attribute(1, address) + attribute(2, address)
        return message(type: 20, sequence: sequence, payload: payload)
    }

    /// `RTM_NEWROUTE` with `struct rtmsg` (family, dst_len, src_len, tos, table, protocol,
    /// scope, type, flags) and `RTA_TABLE` (unless `tableAttribute` is false), `RTA_DST` and
    /// `RTA_OIF` when given.
    static func route(
        sequence: UInt32, prefix: UInt8, destination: [UInt8]?, table: UInt32 = 254, tableAttribute: Bool = true, type: UInt8 = 1,
        outputIndex: Int32? = nil
    ) -> [UInt8] {
        // AF_INET, dst_len, src_len 0, tos 0, rtm_table (RT_TABLE_COMPAT above 255), RTPROT_KERNEL, RT_SCOPE_LINK, type, flags 0
        var payload: [UInt8] = [2, prefix, 0, 0, table < 256 ? UInt8(table) : 252, 2, 253, type] + u32(0)
        if tableAttribute { payload += attribute(15, u32(table)) }  // RTA_TABLE
        if let destination { payload += attribute(1, destination) }  // RTA_DST
        if let outputIndex { payload += attribute(4, u32(UInt32(bitPattern: outputIndex))) }  // RTA_OIF
        return message(type: 24, sequence: sequence, payload: payload)
    }
}
