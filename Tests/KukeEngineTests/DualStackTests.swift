import Foundation
import KukeModel
import KukeTestSupport
import Testing

@testable import KukeEngine

/// Dual-stack spaces against an in-memory host: the /64, the conflist, the bridge's IPv6
/// settings, IPv6 egress.
@Suite("Dual-stack spaces")
struct DualStackTests {
    var layout: HostLayout {
        var layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
        layout.ipv6Pool = IPv6Subnet("fd00:88::/48")
        return layout
    }

    func engine(_ host: FakeHost, layout: HostLayout? = nil) -> Engine {
        Engine(layout: layout ?? self.layout, drivers: host.drivers, clock: { Date(timeIntervalSince1970: 1_800_000_000) })
    }

    /// Realm `main` (its `network` YAML, flow style) and spaces with their `network` YAML.
    func resources(realm: String? = nil, _ spaces: [(String, String?)]) -> [Resource] {
        var text = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n" + (realm.map { "spec:\n  network: \($0)\n" } ?? "")
        for (name, network) in spaces {
            text += "---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: \(name)}\nspec:\n  realmId: main\n"
            if let network { text += "  network:\n" + network.split(separator: "\n").map { "    \($0)\n" }.joined() }
        }
        let decoded = ManifestDecoder.decode(text, file: "spaces.yaml")
        #expect(decoded.issues.isEmpty, "\(decoded.issues)")
        return decoded.resources
    }

    func record(_ host: FakeHost, _ name: String) -> SpaceRecord? {
        host.state.withLock { $0.files["/run/main/\(name)/space.yaml"] }.flatMap { try? RecordCodec.decodeSpace($0, file: "space.yaml") }
    }

    @Test("a realm's ipv6 is its spaces' default, a space's own wins; each dual-stack space gets a /64 of its own, kept on every pass")
    func allocation() throws {
        let host = FakeHost()
        let outcomes = try engine(host).apply(resources(realm: "{ipv6: true}", [("a", nil), ("b", nil), ("c", "ipv6: false")]))
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        #expect(record(host, "a")?.status.network?.ipv6Subnet?.description == "fd00:88::/64")
        #expect(record(host, "b")?.status.network?.ipv6Subnet?.description == "fd00:88:0:1::/64")
        #expect(record(host, "c")?.status.network?.ipv6Subnet == nil)
        let conflist = host.state.withLock { $0.files["/cni/main-b.conflist"] } ?? ""
        #expect(conflist.contains("\"subnet\": \"fd00:88:0:1::/64\"") && conflist.contains("\"dst\": \"::/0\""), "\(conflist)")
        #expect(!(host.state.withLock { $0.files["/cni/main-c.conflist"] } ?? "").contains("::"))
        #expect(host.state.withLock { $0.links["kuke-main-a"]?.ipv6 } == .dualStackBridge)
        #expect(host.state.withLock { $0.links["kuke-main-c"]?.ipv6?.disabled } == true, "an IPv4-only bridge has IPv6 off, as before")
        let again = try engine(host).apply(resources(realm: "{ipv6: true}", [("a", nil), ("b", nil), ("c", "ipv6: false")]))
        #expect(again.allSatisfy { $0.outcome == .unchanged }, "\(again)")
    }

    @Test("turning IPv6 on for an existing space gives it a /64, rewrites its conflist and turns IPv6 on for its bridge; off takes them back")
    func toggle() throws {
        let host = FakeHost()
        _ = try engine(host).apply(resources([("a", nil)]))
        let logged = host.log.count
        let on = try engine(host).apply(resources([("a", "ipv6: true")]))
        #expect(on.first { $0.name == "a" }?.outcome == .updated, "\(on)")
        #expect(
            host.log[logged...].contains("enableIPv6 kuke-main-a") && host.log[logged...].contains("write /cni/main-a.conflist"),
            "\(host.log[logged...])")
        #expect(record(host, "a")?.status.network?.ipv6Subnet?.description == "fd00:88::/64")
        let offLogged = host.log.count
        _ = try engine(host).apply(resources([("a", "ipv6: false")]))
        #expect(record(host, "a")?.status.network?.ipv6Subnet == nil)
        #expect(host.log[offLogged...].contains("disableIPv6 kuke-main-a"), "IPv6 off, and the /64's addresses with it: \(host.log[offLogged...])")
        #expect(try engine(host).apply(resources([("a", "ipv6: false")])).allSatisfy { $0.outcome == .unchanged })
        #expect(!(host.state.withLock { $0.files["/cni/main-a.conflist"] } ?? "").contains("fd00"))
    }

    @Test("another network configuration's IPv6 range and the host's IPv6 addresses are never handed out")
    func foreignRanges() throws {
        let host = FakeHost()
        host.state.withLock { state in
            state.files["/cni/87-podman.conflist"] =
                #"{"cniVersion": "1.0.0", "name": "podman", "plugins": [{"type": "bridge", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.89.0.0/24"}], [{"subnet": "fd00:88::/64"}]]}}]}"#
            state.occupied6 = [OccupiedSubnet6(subnet: IPv6Subnet("fd00:88:0:1::/64")!, linkName: "eth0")]
        }
        _ = try engine(host).apply(resources([("a", "ipv6: true")]))
        #expect(record(host, "a")?.status.network?.ipv6Subnet?.description == "fd00:88:0:2::/64")
    }

    @Test("two records holding one IPv6 network: the later one fails with SubnetConflict, the earlier keeps it")
    func conflict() throws {
        let host = FakeHost()
        _ = try engine(host).apply(resources([("a", "ipv6: true"), ("b", "ipv6: true")]))
        host.state.withLock { state in
            state.files["/run/main/b/space.yaml"] = state.files["/run/main/b/space.yaml"]!.replacingOccurrences(
                of: "ipv6Subnet: fd00:88:0:1::/64", with: "ipv6Subnet: fd00:88::/64")
        }
        let outcomes = try engine(host).apply(resources([("a", "ipv6: true"), ("b", "ipv6: true")]))
        #expect(outcomes.first { $0.name == "b" }?.failure?.reason == .subnetConflict, "\(outcomes)")
        #expect(outcomes.first { $0.name == "a" }?.failure == nil)
    }

    @Test("without ipv6Pool the pool comes from the machine ID; a host without one says to set ipv6Pool")
    func machineID() throws {
        var layout = self.layout
        layout.ipv6Pool = nil
        let host = FakeHost()
        host.state.withLock { $0.files["/etc/machine-id"] = "0123456789abcdef0123456789abcdef\n" }
        _ = try engine(host, layout: layout).apply(resources([("a", "ipv6: true")]))
        let expected = IPv6Pool.uniqueLocal(machineID: "0123456789abcdef0123456789abcdef")!
        #expect(record(host, "a")?.status.network?.ipv6Subnet == IPv6Subnet(containing: expected.network, prefixLength: 64))
        // A space that has its /64 needs no pool: the machine ID gone, it still converges.
        host.state.withLock { $0.files["/etc/machine-id"] = nil }
        #expect(try engine(host, layout: layout).apply(resources([("a", "ipv6: true")])).allSatisfy { $0.failure == nil })
        let bare = FakeHost()
        let outcomes = try engine(bare, layout: layout).apply(resources([("a", "ipv6: true")]))
        let failure = outcomes.first { $0.name == "a" }?.failure
        #expect(failure?.reason == .subnetPoolExhausted && failure?.message.contains("set ipv6Pool") == true, "\(outcomes)")
    }

    @Test("IPv6 egress: a cidr gets ip6 daddr rules, icmp is ICMPv6 there; a host's AAAA addresses count for dual-stack spaces only")
    func egress() throws {
        let host = FakeHost(firewall: true)
        host.state.withLock {
            $0.names["api.example.com"] = [IPv4Address("192.0.2.10")!]
            $0.names6["api.example.com"] = [IPv6Address("2001:db8::10")!]
        }
        let policy =
            "egress:\n  default: deny\n  allow:\n    - cidr: fd00:203::2/128\n      ports: [8080, icmp]\n    - host: api.example.com\n      ports: [443]"
        _ = try engine(host).apply(resources([("a", "ipv6: true\n" + policy), ("v4", policy)]))
        let script = host.state.withLock { $0.firewallScript } ?? ""
        #expect(script.contains("ip6 daddr fd00:203::2 tcp dport 8080 accept comment \"allow[0] cidr fd00:203::2\""), "\(script)")
        #expect(script.contains("ip6 daddr fd00:203::2 meta l4proto ipv6-icmp accept comment \"allow[0] cidr fd00:203::2\""), "\(script)")
        #expect(script.contains("ip6 daddr 2001:db8::10 tcp dport 443 accept comment \"allow[1] host api.example.com\""), "\(script)")
        #expect(record(host, "a")?.status.egress?.addresses6(of: "api.example.com") == [IPv6Address("2001:db8::10")!])
        #expect(record(host, "v4")?.status.egress?.addresses6(of: "api.example.com") == [], "no AAAA lookup for an IPv4-only space")
        // The table as nft would list it reads back as the same rules, and the count is the planner's.
        let spaces = try ["a", "v4"].map { try #require(record(host, $0).flatMap(FirewallSpace.init(record:))) }
        let desired = FirewallPlanner.desired(spaces)
        #expect(desired.table.ruleCount == desired.ruleCount)
        let listed = try NftablesListing(json: NftablesRendering.json(ofScript: desired.script(of: desired.table), tableHandle: 1))
        #expect(listed.table.sameRules(as: desired.table), "\(listed.table.lines)")
        #expect(try engine(host).apply(resources([("a", "ipv6: true\n" + policy), ("v4", policy)])).allSatisfy { $0.outcome == .unchanged })
    }

    @Test("an AAAA lookup that fails for a while (EAGAIN) keeps the IPv6 addresses recorded; one that finds none drops them")
    func familyOutage() throws {
        let host = FakeHost(firewall: true)
        host.state.withLock {
            $0.names["api.example.com"] = [IPv4Address("192.0.2.10")!]
            $0.names6["api.example.com"] = [IPv6Address("2001:db8::10")!]
        }
        let policy = "ipv6: true\negress:\n  default: deny\n  allow:\n    - host: api.example.com"
        _ = try engine(host).apply(resources([("a", policy)]))
        host.state.withLock {
            $0.lookupFailures6["api.example.com"] = HostError(
                "egress host did not resolve (IPv6): Temporary failure", errno: .resourceTemporarilyUnavailable)
        }
        _ = try engine(host).apply(resources([("a", policy)]))
        #expect(record(host, "a")?.status.egress?.addresses6(of: "api.example.com") == [IPv6Address("2001:db8::10")!], "an outage closes nothing")
        host.state.withLock {
            $0.lookupFailures6 = [:]
            $0.names6["api.example.com"] = nil
        }
        _ = try engine(host).apply(resources([("a", policy)]))
        #expect(record(host, "a")?.status.egress?.addresses6(of: "api.example.com") == [], "the name has no IPv6 address any more")
        #expect(!(host.state.withLock { $0.firewallScript } ?? "").contains("2001:db8::10"))
    }

    @Test("IPv6 destinations compare as the ranges they cover, as the kernel keeps them")
    func covered() {
        typealias Match = FirewallTable.Match
        #expect(Match(.ip6Destination, ["fd00::/127"]) == Match(.ip6Destination, ["fd00::", "fd00::1"]))
        #expect(Match(.ip6Destination, ["fd00::/64"]) != Match(.ip6Destination, ["fd00::/65"]))
        #expect(Match(.ip6Destination, ["fd00::-fd00::ff"]) == Match(.ip6Destination, ["fd00::/120"]))
    }
}
