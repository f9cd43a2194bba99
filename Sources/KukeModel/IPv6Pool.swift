import Foundation

/// Where dual-stack spaces get their IPv6 networks: one /64 each, from the host's pool.
///
/// The pool is `ipv6Pool` of the host configuration, or, by default, the host's own unique
/// local /48 (RFC 4193: `fd` and a 40-bit global ID). kuke derives that ID from the host's
/// machine ID (`/etc/machine-id`, random and made once per installation), so the pool is made
/// once per host and kept without a file of kuke's own, the same in every run, and different on
/// every host: spaces of two hosts never share a range, should their networks ever be joined.
public enum IPv6Pool {
    /// The size of every space's IPv6 network (SLAAC and most tooling assume a /64).
    public static let spacePrefixLength = 64
    /// How many /64s one allocation looks through (a /48 holds 65536).
    static let scanLimit = 1 << 16

    /// Why `text` cannot be a pool, or nil.
    public static func problem(_ text: String) -> String? {
        guard let pool = IPv6Subnet(text) else { return "\"\(text)\" is not an IPv6 network in CIDR form (like fd12:3456:789a::/48)" }
        return pool.prefixLength > spacePrefixLength ? "\(pool) is smaller than one /\(spacePrefixLength)" : nil
    }

    /// The unique local /48 of the host whose machine ID is `machineID` (its text; surrounding
    /// whitespace ignored); nil when it is empty.
    public static func uniqueLocal(machineID: String) -> IPv6Subnet? {
        let id = machineID.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !id.isEmpty else { return nil }
        return IPv6Subnet.uniqueLocal(globalID: BridgeName.fnv1a64(Array("kukeon-ipv6-pool:\(id)".utf8)))
    }

    /// The first /64 of `pool` that `isTaken` does not claim and no blocker overlaps; nil when
    /// none is free among the first 65536.
    public static func firstFree(in pool: IPv6Subnet, isTaken: (IPv6Subnet) -> Bool, blockers: [IPv6Subnet]) -> IPv6Subnet? {
        let size = UInt128(1) << UInt128(128 - spacePrefixLength)
        let count = min(scanLimit, 1 << min(62, spacePrefixLength - pool.prefixLength))
        for index in 0..<count {
            let candidate = IPv6Subnet(
                containing: IPv6Address(pool.network.value + UInt128(index) * size), prefixLength: spacePrefixLength)
            if isTaken(candidate) || blockers.contains(where: { $0.overlaps(candidate) }) { continue }
            return candidate
        }
        return nil
    }
}
