import KukeModel
import Testing

@Suite("IPv6 addresses, networks and the pool")
struct IPv6Tests {
    @Test(
        "RFC 4291 text in, RFC 5952 text out",
        arguments: [
            ("fd00:88::", "fd00:88::"), ("FD00:0088:0000:0000:0000:0000:0000:0001", "fd00:88::1"), ("::", "::"), ("::1", "::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("2001:db8::ffff:192.0.2.1", "2001:db8::ffff:c000:201"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1:0:3:4:5:6:7:8", "1:0:3:4:5:6:7:8"),
        ])
    func text(_ pair: (String, String)) throws {
        #expect(try #require(IPv6Address(pair.0)).description == pair.1)
    }

    @Test(
        "malformed text is refused",
        arguments: ["", ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "g::1", "fe80::1%eth0", "1.2.3.4", "::1/64", "+fd00::1", "fd00::-1"])
    func malformed(_ text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test("networks: host bits refused unless asked to clear them; overlap and containment")
    func networks() throws {
        #expect(IPv6Subnet("fd00:88::1/64") == nil)
        #expect(IPv6Subnet("fd00:88::1/64", hostBits: true)?.description == "fd00:88::/64")
        let pool = try #require(IPv6Subnet("fd00:88::/48"))
        let space = try #require(IPv6Subnet("fd00:88:0:5::/64"))
        #expect(pool.overlaps(space) && space.overlaps(pool) && !space.overlaps(IPv6Subnet("fd00:88:0:6::/64")!))
        #expect(space.contains(IPv6Address("fd00:88:0:5::9")!) && space.gateway.description == "fd00:88:0:5::1")
        #expect(space.last.description == "fd00:88:0:5:ffff:ffff:ffff:ffff")
    }

    @Test("the default pool is a unique local /48 derived from the machine ID: the same for one host, another for another")
    func uniqueLocal() throws {
        let one = try #require(IPv6Pool.uniqueLocal(machineID: "0123456789abcdef0123456789abcdef\n"))
        #expect(one == IPv6Pool.uniqueLocal(machineID: "0123456789abcdef0123456789abcdef"))
        #expect(one != IPv6Pool.uniqueLocal(machineID: "fedcba9876543210fedcba9876543210"))
        #expect(one.prefixLength == 48 && one.description.hasPrefix("fd"), "\(one)")
        #expect(IPv6Pool.uniqueLocal(machineID: " \n") == nil)
        #expect(IPv6Pool.problem("fd00::/48") == nil && IPv6Pool.problem("fd00::/96")?.contains("smaller than one /64") == true)
        #expect(IPv6Pool.problem("10.0.0.0/8")?.contains("is not an IPv6 network") == true)
    }

    @Test("allocation: the first /64 no space holds and nothing blocks")
    func allocation() throws {
        let pool = try #require(IPv6Subnet("fd00:88::/48"))
        let taken: Set<IPv6Subnet> = [IPv6Subnet("fd00:88::/64")!]
        let first = IPv6Pool.firstFree(in: pool, isTaken: { taken.contains($0) }, blockers: [IPv6Subnet("fd00:88:0:1::/80")!])
        #expect(first?.description == "fd00:88:0:2::/64")
        #expect(IPv6Pool.firstFree(in: IPv6Subnet("fd00:88::/64")!, isTaken: { _ in false }, blockers: [pool]) == nil, "a blocker covering the pool")
        #expect(IPv6Pool.firstFree(in: IPv6Subnet("fd00:88::/64")!, isTaken: { _ in true }, blockers: []) == nil, "a /64 pool holds one space")
    }

    @Test("a dual-stack conflist carries both ranges and both default routes, and is read back as written")
    func conflist() throws {
        let list = Conflist(
            networkName: "main-a", bridge: "kuke-main-a", subnet: IPv4Subnet("10.88.0.0/24")!, ipv6Subnet: IPv6Subnet("fd00:88::/64")!)
        let ranges = list.json["plugins"]?.arrayValue?.first?["ipam"]?["ranges"]?.arrayValue
        #expect(ranges?.count == 2 && list.json["plugins"]?.arrayValue?.first?["ipam"]?["routes"]?.arrayValue?.count == 2)
        #expect(Conflist.recordedValues(in: try JSONParser.parse(list.text)) == list)
        let v4 = Conflist(networkName: "main-b", bridge: "kuke-main-b", subnet: IPv4Subnet("10.88.1.0/24")!)
        #expect(Conflist.recordedValues(in: try JSONParser.parse(v4.text))?.ipv6Subnet == nil)
        #expect(!v4.text.contains("::/0"), "an IPv4-only conflist is as before")
        #expect(ClaimedRanges.subnets6(in: try JSONParser.parse(list.text)) == [IPv6Subnet("fd00:88::/64")!])
    }

    @Test("the host configuration takes ipv6Pool, validated with its position")
    func hostConfig() {
        let good = HostConfig.decode("apiVersion: v1beta1\nkind: HostConfig\nspec:\n  ipv6Pool: fd12:3456:789a::/48\n", file: "kuke.yaml")
        #expect((try? good.get())?.layout["ipv6Pool"]?.value == "fd12:3456:789a::/48")
        let bad = HostConfig.decode("apiVersion: v1beta1\nkind: HostConfig\nspec:\n  ipv6Pool: fd12::/100\n", file: "kuke.yaml")
        guard case .failure(let issues) = bad else {
            Issue.record("accepted")
            return
        }
        #expect("\(issues)".contains("kuke.yaml:4:13") && "\(issues)".contains("smaller than one /64"), "\(issues)")
    }
}
