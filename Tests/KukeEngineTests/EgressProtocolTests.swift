import Foundation
import KukeModel
import KukeTestSupport
import Testing

@testable import KukeEngine

/// Protocols in `ports` and `dns: allow`, from manifest to nftables script and listing, against
/// an in-memory host.
@Suite("Egress protocols and name resolution")
struct EgressProtocolTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    func engine(_ host: FakeHost) -> Engine {
        Engine(layout: layout, drivers: host.drivers, clock: { Date(timeIntervalSince1970: 1_800_000_000) })
    }

    func resources(_ egress: String) -> [Resource] {
        let text =
            "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: shop}\nspec:\n  realmId: main\n  network:\n    egress:\n"
            + egress.split(separator: "\n").map { "      \($0)\n" }.joined()
        let decoded = ManifestDecoder.decode(text, file: "egress.yaml")
        #expect(decoded.issues.isEmpty, "\(decoded.issues)")
        return decoded.resources
    }

    func record(_ host: FakeHost) -> SpaceRecord? {
        host.state.withLock { $0.files["/run/main/shop/space.yaml"] }.flatMap { try? RecordCodec.decodeSpace($0, file: "space.yaml") }
    }

    func script(_ host: FakeHost) -> String { host.state.withLock { $0.firewallScript } ?? "" }

    func ports(_ yaml: String) -> EgressPorts? {
        let text =
            "apiVersion: v1beta1\nkind: Space\nmetadata: {name: s}\nspec:\n  realmId: r\n  network:\n    egress:\n      default: deny\n      allow:\n        - cidr: 10.0.0.0/8\n          ports: \(yaml)\n"
        guard case .space(let space)? = ManifestDecoder.decode(text, file: "s.yaml").resources.first else { return nil }
        return EgressPolicy(network: space.spec.network)?.rules.first?.ports
    }

    @Test("entries: an integer is TCP, PORT/PROTO and FROM-TO/PROTO name the protocol, icmp stands alone; overlapping ranges are merged per protocol")
    func entries() throws {
        let read = try #require(ports(#"[443, "53/udp", "8000-8100/tcp", "8050-8200", "54/udp", "9/sctp", icmp, "80"]"#))
        #expect(read.entries == ["80", "443", "8000-8200", "53/udp", "54/udp", "9/sctp", "icmp"])
        #expect(read.transports == [.tcp, .udp, .sctp] && read.icmp)
        #expect(ports("[22, 22]")?.entries == ["22"])
        #expect(ports("[icmp]") == EgressPorts(icmp: true))
        #expect(ports(#"["1-65535/udp"]"#)?.ranges == [.init(.udp, 1, 65535)])
    }

    @Test("each rule of an entry's form, rendered as nft reads it back: one protocol a set, several a concatenation, icmp a rule of its own")
    func rendering() throws {
        let host = FakeHost(firewall: true)
        let egress = """
            default: deny
            allow:
              - cidr: 192.0.2.53/32
                ports: ["53/udp"]
              - cidr: 192.0.2.0/24
                ports: [443, "53/udp", "8000-8100/udp"]
              - cidr: 198.51.100.0/24
                ports: [icmp]
              - cidr: 203.0.113.0/24
                ports: [22, icmp]
              - cidr: 10.1.0.0/16
                ports: [80, 443]
            """
        let outcomes = try engine(host).apply(resources(egress))
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        let text = script(host)
        #expect(text.contains("ip daddr 192.0.2.53 udp dport 53 accept comment \"allow[0] cidr 192.0.2.53\""), "\(text)")
        #expect(
            text.contains(
                "ip daddr 192.0.2.0/24 meta l4proto . th dport { tcp . 443, udp . 53, udp . 8000-8100 } accept comment \"allow[1] cidr 192.0.2.0/24\""
            ),
            "\(text)")
        #expect(text.contains("ip daddr 198.51.100.0/24 meta l4proto icmp accept comment \"allow[2] cidr 198.51.100.0/24\""), "\(text)")
        #expect(text.contains("ip daddr 203.0.113.0/24 tcp dport 22 accept comment \"allow[3] cidr 203.0.113.0/24\""), "\(text)")
        #expect(text.contains("ip daddr 203.0.113.0/24 meta l4proto icmp accept comment \"allow[3] cidr 203.0.113.0/24\""), "\(text)")
        #expect(text.contains("ip daddr 10.1.0.0/16 tcp dport { 80, 443 } accept comment \"allow[4] cidr 10.1.0.0/16\""), "integers render as before")

        // The planner's count, the table it builds and nft's listing of its script agree, and the listing reads back as the same table.
        let spaces = try #require(record(host).flatMap(FirewallSpace.init(record:)))
        let desired = FirewallPlanner.desired([spaces])
        #expect(desired.table.ruleCount == desired.ruleCount)
        let listed = try NftablesListing(json: NftablesRendering.json(ofScript: desired.script(of: desired.table), tableHandle: 1))
        #expect(listed.table.sameRules(as: desired.table), "\(listed.table.lines)")
        #expect(try engine(host).apply(resources(egress)).allSatisfy { $0.outcome == .unchanged })
    }

    @Test("the record keeps each entry as written, a quoted number a string: a second apply finds the space unchanged")
    func recordRoundTrip() throws {
        let host = FakeHost(firewall: true)
        let egress = "default: deny\ndns: deny\nallow:\n  - cidr: 10.0.0.0/8\n    ports: [\"443\", 80, \"53/udp\", icmp, \"1-9\"]"
        #expect(try engine(host).apply(resources(egress)).allSatisfy { $0.failure == nil })
        let stored = try #require(record(host))
        guard case .list(let rules)? = stored.spec.network?["egress"]?["allow"] else {
            Issue.record("no rules")
            return
        }
        #expect(rules.first?["ports"] == .list([.string("443"), .integer(80), .string("53/udp"), .string("icmp"), .string("1-9")]))
        #expect(try engine(host).apply(resources(egress)).allSatisfy { $0.outcome == .unchanged })
        #expect(stored.metadata.generation == record(host)?.metadata.generation)
    }

    @Test("integer ports keep the fingerprint they had before protocols: an upgrade rewrites no table")
    func fingerprintKept() {
        let shop = FirewallSpace(
            id: SpaceID(realm: "main", name: "shop"), bridge: "kuke-main-shop",
            egress: [.init(destinations: ["10.0.0.0/8"], ports: [443, 80], label: "allow[0] cidr 10.0.0.0/8")])
        // The fingerprint kuke-table/3 gave this space before ports had protocols (`\t10.0.0.0/8 80,443 allow[0] …`);
        // adjacent ports too (`80,81`), which are not merged.
        let adjacent = FirewallSpace(
            id: SpaceID(realm: "main", name: "shop"), bridge: "kuke-main-shop",
            egress: [.init(destinations: ["10.0.0.0/8"], ports: [81, 80], label: "allow[0] cidr 10.0.0.0/8")])
        let adjacentInput = FirewallPlanner.format + "\nkuke-main-shop\t10.0.0.0/8 80,81 allow[0] cidr 10.0.0.0/8\tdeny\n"
        #expect(FirewallPlanner.desired([adjacent]).fingerprint == String(BridgeName.fnv1a64(Array(adjacentInput.utf8)), radix: 16))
        var input = FirewallPlanner.format + "\nkuke-main-shop\t10.0.0.0/8 80,443 allow[0] cidr 10.0.0.0/8\tdeny\n"
        #expect(FirewallPlanner.desired([shop]).fingerprint == String(BridgeName.fnv1a64(Array(input.utf8)), radix: 16))
        input = FirewallPlanner.format + "\nkuke-main-shop\t10.0.0.0/8 80,443/udp allow[0] cidr 10.0.0.0/8\tdeny\n"
        let udp = FirewallSpace(
            id: shop.id, bridge: shop.bridge,
            egress: [
                .init(
                    destinations: ["10.0.0.0/8"], ports: EgressPorts(ranges: [.init(.tcp, 80, 80), .init(.udp, 443, 443)]),
                    label: "allow[0] cidr 10.0.0.0/8")
            ])
        #expect(FirewallPlanner.desired([udp]).fingerprint == String(BridgeName.fnv1a64(Array(input.utf8)), radix: 16))
        #expect(FirewallPlanner.desired([udp]).fingerprint != FirewallPlanner.desired([shop]).fingerprint)
    }

    @Test("a listing whose concatenation or protocol differs from kuke's is drift; the same elements in another order are not")
    func listingCompare() {
        typealias Match = FirewallTable.Match
        #expect(Match(.protocolAndPort, ["udp . 53", "tcp . 53"]) == Match(.protocolAndPort, ["tcp . 53", "udp . 53"]))
        #expect(Match(.protocolAndPort, ["tcp . 53", "tcp . 54"]) == Match(.protocolAndPort, ["tcp . 53-54"]))
        #expect(Match(.protocolAndPort, ["tcp . 53"]) != Match(.protocolAndPort, ["udp . 53"]))
        #expect(Match(.destinationPort(.udp), ["53"]) != Match(.destinationPort(.tcp), ["53"]))
        #expect(Match(.protocol, ["icmp"]) != Match(.protocol, ["udp"]))
        let json = #"""
            {"nftables": [{"table": {"family": "inet", "name": "kukeon", "handle": 3}}, {"chain": {"family": "inet", "table": "kukeon", "name": "egress_kuke_main_shop", "handle": 1}},
            {"rule": {"family": "inet", "table": "kukeon", "chain": "egress_kuke_main_shop", "handle": 4, "comment": "a", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "10.0.0.1"}}, {"match": {"op": "==", "left": {"concat": [{"meta": {"key": "l4proto"}}, {"payload": {"protocol": "th", "field": "dport"}}]}, "right": {"set": [{"concat": ["tcp", 53]}, {"concat": ["udp", {"range": [8000, 8100]}]}]}}}, {"accept": null}]}},
            {"rule": {"family": "inet", "table": "kukeon", "chain": "egress_kuke_main_shop", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "sctp", "field": "dport"}}, "right": {"set": [{"range": [53, 60]}]}}}, {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "icmp"}}, {"accept": null}]}}]}
            """#
        let listing = try? NftablesListing(json: json)
        #expect(
            listing?.table.lines == [
                "chain egress_kuke_main_shop {", "  ip daddr 10.0.0.1 meta l4proto . th dport { tcp . 53, udp . 8000-8100 } accept comment \"a\"",
                "  sctp dport 53-60 meta l4proto icmp accept",
            ], "\(listing?.table.lines ?? [])")
    }

    @Test("dns: allow lets port 53 over UDP and TCP to the host's resolvers, recorded in status.egress.nameservers")
    func dnsAllow() throws {
        let host = FakeHost(firewall: true)
        host.state.withLock { $0.files["/etc/resolv.conf"] = "# written by hand\nsearch example.com\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n" }
        let outcomes = try engine(host).apply(resources("default: deny\ndns: allow"))
        #expect(outcomes.allSatisfy { $0.failure == nil && $0.warnings.isEmpty }, "\(outcomes)")
        #expect(
            script(host).contains("ip daddr { 192.0.2.53, 192.0.2.54 } meta l4proto . th dport { tcp . 53, udp . 53 } accept comment \"dns\""),
            "\(script(host))")
        #expect(record(host)?.status.egress?.nameservers?.map(\.description) == ["192.0.2.53", "192.0.2.54"])
        #expect(record(host)?.status.egress?.resolved.isEmpty == true)
        let text = host.state.withLock { $0.files["/run/main/shop/space.yaml"] } ?? ""
        #expect(text.contains("  egress:\n    nameservers:\n    - 192.0.2.53\n    - 192.0.2.54\n"), "\(text)")

        // Re-read at every apply: the resolver moves, the rule follows.
        host.state.withLock { $0.files["/etc/resolv.conf"] = "nameserver 192.0.2.99\n" }
        let moved = try engine(host).apply(resources("default: deny\ndns: allow"))
        #expect(moved.first { $0.kind == .firewall }?.outcome == .updated)
        #expect(script(host).contains("ip daddr 192.0.2.99 meta l4proto . th dport { tcp . 53, udp . 53 } accept comment \"dns\""))

        // Without dns: allow, no rule and nothing recorded.
        _ = try engine(host).apply(resources("default: deny"))
        #expect(!script(host).contains("comment \"dns\"") && record(host)?.status.egress == nil)
    }

    @Test("systemd-resolved's stub is replaced by its upstream servers; loopback and IPv6 servers are left out with a warning")
    func stub() throws {
        let conf = (path: "/etc/resolv.conf", text: "nameserver 127.0.0.53\noptions edns0 trust-ad\n")
        let upstream = "nameserver 192.0.2.1\nnameserver 2001:db8::1\nnameserver 192.0.2.2\n"
        let found = try HostNameservers.read(resolvConf: conf) { ("/run/systemd/resolve/resolv.conf", upstream) }
        #expect(found.addresses.map(\.description) == ["192.0.2.1", "192.0.2.2"])
        #expect(found.source == "/etc/resolv.conf (systemd-resolved's stub) and /run/systemd/resolve/resolv.conf")
        #expect(found.skipped == ["2001:db8::1 in /run/systemd/resolve/resolv.conf (IPv6: dns: allow opens the IPv4 resolvers)"])

        var asked = false
        let plain = try HostNameservers.read(resolvConf: ("/etc/resolv.conf", "nameserver 127.0.0.1\nnameserver\t10.0.0.2\n")) {
            asked = true
            return ("x", nil)
        }
        #expect(!asked, "the upstream file is read only for the stub")
        #expect(plain.addresses.map(\.description) == ["10.0.0.2"] && plain.skipped.count == 1 && plain.skipped[0].contains("loopback"))

        #expect(throws: HostError.self) { try HostNameservers.read(resolvConf: conf) { ("/run/systemd/resolve/resolv.conf", nil) } }
        #expect(throws: HostError.self) { try HostNameservers.read(resolvConf: ("/etc/resolv.conf", "search example.com\n")) { ("x", nil) } }
    }

    @Test("no resolver to read fails the space with NameserversUnavailable, keeps the last ones, and the rest converges")
    func dnsUnavailable() throws {
        let host = FakeHost(firewall: true)
        let first = try engine(host).apply(resources("default: deny\ndns: allow"))
        let shop = try #require(first.first { $0.name == "shop" })
        #expect(shop.failure?.reason == .nameserversUnavailable && shop.failure?.message.contains("no DNS allowed") == true, "\(shop)")
        #expect(!script(host).contains("comment \"dns\"") && script(host).contains("counter drop comment \"deny\""))
        #expect(host.state.withLock { $0.links["kuke-main-shop"] } != nil)

        host.state.withLock { $0.files["/etc/resolv.conf"] = "nameserver 127.0.0.53\n" }
        host.state.withLock { $0.files["/run/systemd/resolve/resolv.conf"] = "nameserver 192.0.2.1\n" }
        #expect(try engine(host).apply(resources("default: deny\ndns: allow")).allSatisfy { $0.failure == nil })
        host.state.withLock { $0.files["/run/systemd/resolve/resolv.conf"] = nil }
        let outage = try engine(host).apply(resources("default: deny\ndns: allow"))
        let failed = try #require(outage.first { $0.name == "shop" })
        #expect(failed.failure?.message.contains("keeping the 1 resolver(s) read before") == true, "\(failed)")
        #expect(script(host).contains("ip daddr 192.0.2.1 meta l4proto . th dport"), "the last known resolver stays allowed")
        #expect(record(host)?.status.reason == .nameserversUnavailable)
    }
}
