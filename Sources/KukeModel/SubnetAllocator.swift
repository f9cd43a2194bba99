/// Carves a pool into /24s and picks the first one free for a new space.
public struct SubnetAllocator: Sendable {
    /// The size of every space's network.
    public static let spacePrefixLength = 24

    public var pool: IPv4Subnet

    /// Why a pool cannot be carved into /24s, or nil when it can.
    public static func violation(of pool: IPv4Subnet) -> String? {
        pool.prefixLength > spacePrefixLength
            ? "subnet pool \(pool) is smaller than one /\(spacePrefixLength)" : nil
    }

    public init(pool: IPv4Subnet) {
        precondition(Self.violation(of: pool) == nil, "pool must hold at least one /24")
        self.pool = pool
    }

    /// How many /24s the pool holds.
    public var capacity: Int { 1 << (Self.spacePrefixLength - pool.prefixLength) }

    /// The first /24 of the pool that no space holds and no host address or route overlaps.
    ///
    /// - Parameters:
    ///   - taken: subnets recorded by other spaces.
    ///   - occupied: addresses and routes already on the host (not those of kuke's own bridges).
    /// - Returns: nil when the pool is exhausted.
    public func firstFree(taken: Set<IPv4Subnet>, occupied: [IPv4Subnet]) -> IPv4Subnet? {
        let blockers = occupied.filter { $0.prefixLength > 0 && $0.overlaps(pool) } + taken.filter { $0.overlaps(pool) }
        for index in 0..<capacity {
            let candidate = IPv4Subnet(
                containing: IPv4Address(pool.network.value + UInt32(index) << 8),
                prefixLength: Self.spacePrefixLength)
            if !blockers.contains(where: { $0.overlaps(candidate) }) { return candidate }
        }
        return nil
    }
}
