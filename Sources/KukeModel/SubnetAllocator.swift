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
        firstFree(
            isTaken: { taken.contains($0) },
            blockers: occupied.filter { $0.prefixLength > 0 } + taken.filter { $0.prefixLength != Self.spacePrefixLength })
    }

    /// The first /24 of the pool that `isTaken` does not claim and no blocker overlaps: what
    /// `firstFree(taken:occupied:)` gives, with the spaces' /24s asked one at a time (an index
    /// lookup) rather than gathered into a set for every allocation.
    /// - Parameters:
    ///   - isTaken: whether a space holds exactly this /24.
    ///   - blockers: host addresses and routes, claims of other runtimes, and spaces' subnets of
    ///     other sizes.
    public func firstFree(isTaken: (IPv4Subnet) -> Bool, blockers: [IPv4Subnet]) -> IPv4Subnet? {
        // Mark the /24s of the pool each blocker overlaps, then take the first unmarked one:
        // linear in blockers plus pool size, not their product.
        var blocked = Set<Int>()
        for blocker in blockers where blocker.overlaps(pool) {
            if blocker.prefixLength <= pool.prefixLength { return nil }  // covers the whole pool
            let first = Int((blocker.network.value - pool.network.value) >> 8)
            let count = blocker.prefixLength >= Self.spacePrefixLength ? 1 : 1 << (Self.spacePrefixLength - blocker.prefixLength)
            for index in first..<min(capacity, first + count) { blocked.insert(index) }
        }
        for index in 0..<capacity where !blocked.contains(index) {
            let subnet = IPv4Subnet(containing: IPv4Address(pool.network.value + UInt32(index) << 8), prefixLength: Self.spacePrefixLength)
            if !isTaken(subnet) { return subnet }
        }
        return nil
    }
}
