import CKukeSys
import Glibc
import KukeEngine

/// Builds one netlink message: header, a fixed family header, then attributes,
/// each 4-byte aligned, with lengths filled in by the builder rather than by hand.
struct NetlinkMessage {
    static let headerLength = 16
    static let messageError = UInt16(NLMSG_ERROR)
    static let messageDone = UInt16(NLMSG_DONE)
    static let flagRequest = UInt16(NLM_F_REQUEST)
    static let flagAck = UInt16(NLM_F_ACK)
    static let flagDumpInterrupted = UInt16(NLM_F_DUMP_INTR)
    static let flagDump = UInt16(NLM_F_ROOT | NLM_F_MATCH)  // NLM_F_DUMP
    static let flagExclusive = UInt16(NLM_F_EXCL)
    static let flagCreate = UInt16(NLM_F_CREATE)
    private(set) var bytes: [UInt8]

    /// - Parameters:
    ///   - type: `RTM_NEWLINK`, `RTM_GETLINK`, …
    ///   - flags: `NLM_F_*`
    init(type: UInt16, flags: UInt16, sequence: UInt32) {
        bytes = []
        bytes.reserveCapacity(128)
        appendInteger(UInt32(0))  // nlmsg_len, set by `finished`
        appendInteger(type)
        appendInteger(flags)
        appendInteger(sequence)
        appendInteger(UInt32(0))  // nlmsg_pid: the kernel fills in ours
    }

    mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    /// `struct ifinfomsg`: family, type, index, flags, change.
    mutating func appendInterfaceInfo(family: UInt8 = 0, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        bytes.append(family)
        bytes.append(0)
        appendInteger(UInt16(0))
        appendInteger(index)
        appendInteger(flags)
        appendInteger(change)
    }

    /// `struct ifaddrmsg` or the first bytes of `struct rtmsg`: a family byte and zeroed rest.
    mutating func appendFamilyHeader(family: UInt8, length: Int) {
        bytes.append(family)
        bytes.append(contentsOf: repeatElement(0, count: length - 1))
    }

    mutating func appendAttribute(type: UInt16, payload: [UInt8]) {
        pad()
        appendInteger(UInt16(4 + payload.count))
        appendInteger(type)
        bytes.append(contentsOf: payload)
        pad()
    }

    /// A NUL-terminated string attribute (`IFLA_IFNAME`, `IFLA_INFO_KIND`).
    mutating func appendAttribute(type: UInt16, string: String) {
        appendAttribute(type: type, payload: Array(string.utf8) + [0])
    }

    /// A nested attribute; `body` appends its children.
    mutating func appendNested(type: UInt16, _ body: (inout NetlinkMessage) -> Void) {
        pad()
        let start = bytes.count
        appendInteger(UInt16(0))
        appendInteger(type | 0x8000)  // NLA_F_NESTED
        body(&self)
        pad()
        let length = UInt16(bytes.count - start)
        bytes[start] = UInt8(length & 0xFF)
        bytes[start + 1] = UInt8(length >> 8)
    }

    /// The message with `nlmsg_len` set.
    func finished() -> [UInt8] {
        var out = bytes
        let length = UInt32(out.count)
        for index in 0..<4 { out[index] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(index))) }
        return out
    }
}

/// A received netlink message, parsed once into its parts.
struct NetlinkReply {
    var type: UInt16
    var flags: UInt16
    var sequence: UInt32
    /// Everything after the 16-byte header.
    var payload: ArraySlice<UInt8>

    /// Splits one datagram into messages. A message cut short (a header that does not fit, or
    /// a length past the end of the datagram) is refused rather than read past or dropped:
    /// a dump missing its tail would look like links that do not exist.
    static func parse(_ buffer: ArraySlice<UInt8>) throws(HostError) -> [NetlinkReply] {
        var replies: [NetlinkReply] = []
        var offset = buffer.startIndex
        while offset < buffer.endIndex {
            let left = buffer.endIndex - offset
            let position = "at byte \(offset - buffer.startIndex) of a \(buffer.count)-byte datagram"
            guard left >= NetlinkMessage.headerLength else {
                throw HostError("netlink reply truncated: \(left) bytes \(position), too few for a message header")
            }
            let length = Int(buffer.readInteger(at: offset, as: UInt32.self))
            guard length >= NetlinkMessage.headerLength, length <= left else {
                throw HostError("netlink reply truncated: a message of \(length) bytes \(position)")
            }
            replies.append(
                NetlinkReply(
                    type: buffer.readInteger(at: offset + 4, as: UInt16.self),
                    flags: buffer.readInteger(at: offset + 6, as: UInt16.self),
                    sequence: buffer.readInteger(at: offset + 8, as: UInt32.self),
                    payload: buffer[(offset + NetlinkMessage.headerLength)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
        return replies
    }

    /// The errno of an `NLMSG_ERROR` reply (0 for an acknowledgement); EIO when it is too short.
    var errorCode: Int32 {
        guard payload.count >= 4 else { return EIO }
        return -Int32(bitPattern: payload.readInteger(at: payload.startIndex, as: UInt32.self))
    }
}

/// Attributes (`struct rtattr`) of a message, by type; the last one of a type wins.
struct NetlinkAttributes {
    var values: [UInt16: ArraySlice<UInt8>] = [:]

    init(_ bytes: ArraySlice<UInt8>) {
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            let length = Int(bytes.readInteger(at: offset, as: UInt16.self))
            let type = bytes.readInteger(at: offset + 2, as: UInt16.self) & 0x3FFF
            guard length >= 4, offset + length <= bytes.endIndex else { break }
            values[type] = bytes[(offset + 4)..<(offset + length)]
            offset += (length + 3) & ~3
        }
    }

    subscript(type: UInt16) -> ArraySlice<UInt8>? { values[type] }

    /// Every attribute of `bytes` in order, types repeated: a nested list (`NFTA_LIST_ELEM`s).
    static func list(_ bytes: ArraySlice<UInt8>) -> [(type: UInt16, value: ArraySlice<UInt8>)] {
        var items: [(type: UInt16, value: ArraySlice<UInt8>)] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            let length = Int(bytes.readInteger(at: offset, as: UInt16.self))
            let type = bytes.readInteger(at: offset + 2, as: UInt16.self) & 0x3FFF
            guard length >= 4, offset + length <= bytes.endIndex else { break }
            items.append((type, bytes[(offset + 4)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
        return items
    }

    /// A NUL-terminated string attribute.
    func string(_ type: UInt16) -> String? {
        guard let raw = values[type] else { return nil }
        return String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }

    func uint32(_ type: UInt16) -> UInt32? {
        guard let raw = values[type], raw.count >= 4 else { return nil }
        return raw.readInteger(at: raw.startIndex, as: UInt32.self)
    }

    /// An IPv4 address attribute, in network byte order on the wire.
    /// An IPv6 address attribute (16 bytes, network byte order).
    func ipv6(_ type: UInt16) -> UInt128? {
        guard let raw = values[type], raw.count == 16 else { return nil }
        return raw.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
    }

    func ipv4(_ type: UInt16) -> UInt32? {
        guard let raw = values[type], raw.count == 4 else { return nil }
        return raw.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}

extension ArraySlice where Element == UInt8 {
    /// A little-endian (host order on the platforms kuke runs on) integer at `offset`.
    func readInteger<T: FixedWidthInteger>(at offset: Int, as: T.Type) -> T {
        var value: T = 0
        for byteIndex in 0..<MemoryLayout<T>.size {
            value |= T(self[offset + byteIndex]) << (8 * byteIndex)
        }
        return value
    }
}
