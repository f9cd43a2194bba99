import Testing

@testable import KukeModel

@Suite("Subnets")
struct SubnetTests {
    let pool = IPv4Subnet("10.88.0.0/16")!
    func net(_ text: String) -> IPv4Subnet { IPv4Subnet(text)! }

    @Test("parsing and formatting")
    func parsing() {
        #expect(IPv4Subnet("10.88.1.0/24")?.description == "10.88.1.0/24")
        #expect(IPv4Subnet("10.88.1.1/24") == nil)  // host bits set
        #expect(IPv4Subnet("10.88.1.0/33") == nil)
        #expect(IPv4Subnet("10.088.1.0/24") == nil)
        #expect(IPv4Subnet("10.88.1/24") == nil)
        #expect(IPv4Address("255.255.255.255")?.value == UInt32.max)
        #expect(net("10.88.1.0/24").gateway.description == "10.88.1.1")
    }

    @Test("overlap")
    func overlap() {
        #expect(net("10.0.0.0/8").overlaps(net("10.88.3.0/24")))
        #expect(net("10.88.3.0/24").overlaps(net("10.0.0.0/8")))
        #expect(!net("10.88.3.0/24").overlaps(net("10.88.4.0/24")))
    }

    @Test("first free /24, skipping taken subnets and host addresses and routes")
    func firstFree() {
        let allocator = SubnetAllocator(pool: pool)
        #expect(allocator.firstFree(taken: [], occupied: []) == net("10.88.0.0/24"))
        #expect(allocator.firstFree(taken: [net("10.88.0.0/24")], occupied: []) == net("10.88.1.0/24"))
        #expect(allocator.firstFree(taken: [net("10.88.0.0/24")], occupied: [net("10.88.1.7/32"), net("10.88.2.0/23")]) == net("10.88.4.0/24"))
    }

    @Test("a default route does not block the pool; a covering route does")
    func routes() {
        let allocator = SubnetAllocator(pool: pool)
        #expect(allocator.firstFree(taken: [], occupied: [net("0.0.0.0/0")]) == net("10.88.0.0/24"))
        #expect(allocator.firstFree(taken: [], occupied: [net("10.0.0.0/8")]) == nil)
    }

    @Test("exhaustion returns nil")
    func exhaustion() {
        let small = SubnetAllocator(pool: net("192.168.0.0/23"))
        #expect(small.capacity == 2)
        #expect(small.firstFree(taken: [net("192.168.0.0/24"), net("192.168.1.0/24")], occupied: []) == nil)
        #expect(SubnetAllocator.violation(of: net("192.168.0.0/25")) != nil)
    }

    @Test("stable: freeing a subnet makes it the next one given")
    func stable() {
        let allocator = SubnetAllocator(pool: pool)
        let taken: Set = [net("10.88.0.0/24"), net("10.88.2.0/24")]
        #expect(allocator.firstFree(taken: taken, occupied: []) == net("10.88.1.0/24"))
    }
}
