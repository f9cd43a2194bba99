/// An IPv4 address as a host-order 32-bit number.
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad notation (`10.88.0.1`); nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }), let octet = UInt8(part),
                part == "0" || !part.hasPrefix("0")
            else { return nil }
            value = value << 8 | UInt32(octet)
        }
        self.value = value
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv4 network in CIDR form, always normalized to its network address.
public struct IPv4Subnet: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var network: IPv4Address
    public var prefixLength: Int

    /// A subnet from any address inside it; host bits are cleared.
    public init(containing address: IPv4Address, prefixLength: Int) {
        precondition((0...32).contains(prefixLength), "prefix length out of range")
        self.prefixLength = prefixLength
        self.network = IPv4Address(address.value & Self.mask(prefixLength))
    }

    /// Parses `a.b.c.d/n`; nil when malformed or when host bits are set.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(String(parts[0])),
            parts[1].allSatisfy(\.isASCII), let length = Int(parts[1]), (0...32).contains(length),
            address.value & ~Self.mask(length) == 0
        else { return nil }
        self.init(containing: address, prefixLength: length)
    }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }

    public var mask: UInt32 { Self.mask(prefixLength) }
    /// The first usable address, which the CNI bridge plugin gives the bridge as gateway.
    public var gateway: IPv4Address { IPv4Address(network.value + 1) }

    public func contains(_ address: IPv4Address) -> Bool { address.value & mask == network.value }

    /// True when the two subnets share at least one address.
    public func overlaps(_ other: IPv4Subnet) -> Bool {
        let shorter = min(prefixLength, other.prefixLength)
        return network.value & Self.mask(shorter) == other.network.value & Self.mask(shorter)
    }

    public var description: String { "\(network)/\(prefixLength)" }

    public static func < (lhs: IPv4Subnet, rhs: IPv4Subnet) -> Bool {
        (lhs.network, lhs.prefixLength) < (rhs.network, rhs.prefixLength)
    }
}
