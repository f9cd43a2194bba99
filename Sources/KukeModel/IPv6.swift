/// An IPv6 address as a 128-bit number.
public struct IPv6Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt128

    public init(_ value: UInt128) { self.value = value }

    /// Parses RFC 4291 text (`fd12:3456:789a::1`, `::`, `::ffff:192.0.2.1`); nil when malformed
    /// (a zone `%eth0` included: kuke's addresses are global or unique local).
    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 45, text.unicodeScalars.allSatisfy({ $0.isASCII }) else { return nil }
        var groups: [UInt16] = []
        func parse(_ part: Substring, last: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if last, index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = IPv4Address(String(piece)) else { return nil }
                    out += [UInt16(v4.value >> 16), UInt16(v4.value & 0xFFFF)]
                    continue
                }
                guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit), let group = UInt16(piece, radix: 16) else { return nil }
                out.append(group)
            }
            return out
        }
        let halves = text.components(separatedBy: "::")
        switch halves.count {
        case 1:
            guard let all = parse(Substring(text), last: true), all.count == 8 else { return nil }
            groups = all
        case 2:
            guard let head = parse(Substring(halves[0]), last: false), let tail = parse(Substring(halves[1]), last: true),
                head.count + tail.count <= 7
            else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        default:
            return nil
        }
        value = groups.reduce(UInt128(0)) { $0 << 16 | UInt128($1) }
    }

    /// The eight groups, most significant first.
    var groups: [UInt16] { (0..<8).map { UInt16(truncatingIfNeeded: value >> UInt128(112 - 16 * $0)) } }

    /// RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups
    /// (the first of equal runs) written `::`.
    public var description: String {
        let groups = groups
        var best: (start: Int, count: Int) = (-1, 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8, groups[end] == 0 { end += 1 }
            if end - index > best.count { best = (index, end - index) }
            index = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.count >= 2 else { return hex.joined(separator: ":") }
        return hex[..<best.start].joined(separator: ":") + "::" + hex[(best.start + best.count)...].joined(separator: ":")
    }

    public static func < (a: IPv6Address, b: IPv6Address) -> Bool { a.value < b.value }
}

/// An IPv6 network in CIDR form, normalized to its network address.
public struct IPv6Subnet: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var network: IPv6Address
    public var prefixLength: Int

    /// The network of `address` with host bits cleared.
    public init(containing address: IPv6Address, prefixLength: Int) {
        precondition((0...128).contains(prefixLength), "prefix length out of range")
        self.prefixLength = prefixLength
        self.network = IPv6Address(address.value & Self.mask(prefixLength))
    }

    /// Parses `addr/n`; nil when malformed or when host bits are set (`hostBits: true` clears them).
    public init?(_ text: String, hostBits: Bool = false) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv6Address(String(parts[0])), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
            parts[1].count <= 3, let length = Int(parts[1]), (0...128).contains(length), hostBits || address.value & ~Self.mask(length) == 0
        else { return nil }
        self.init(containing: address, prefixLength: length)
    }

    static func mask(_ length: Int) -> UInt128 { length == 0 ? 0 : UInt128.max << UInt128(128 - length) }

    /// The first address after the network's, which the CNI bridge plugin gives the bridge as gateway.
    public var gateway: IPv6Address { IPv6Address(network.value + 1) }

    /// The last address of the network.
    public var last: IPv6Address { IPv6Address(network.value | ~Self.mask(prefixLength)) }

    public func contains(_ address: IPv6Address) -> Bool { address.value & Self.mask(prefixLength) == network.value }

    /// True when the two networks share at least one address.
    public func overlaps(_ other: IPv6Subnet) -> Bool {
        let shorter = min(prefixLength, other.prefixLength)
        return network.value & Self.mask(shorter) == other.network.value & Self.mask(shorter)
    }

    public var description: String { "\(network)/\(prefixLength)" }

    public static func < (a: IPv6Subnet, b: IPv6Subnet) -> Bool { (a.network, a.prefixLength) < (b.network, b.prefixLength) }

    /// A unique local /48 (RFC 4193: `fd` and a random 40-bit global ID), from 40 random bits.
    public static func uniqueLocal(globalID: UInt64) -> IPv6Subnet {
        IPv6Subnet(containing: IPv6Address(UInt128(0xFD) << 120 | UInt128(globalID & 0xFF_FFFF_FFFF) << 80), prefixLength: 48)
    }
}
