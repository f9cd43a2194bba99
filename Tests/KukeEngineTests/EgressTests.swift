import Foundation
import KukeModel
import KukeTestSupport
import Testing

@testable import KukeEngine

/// `spec.network.egress` from manifest to nftables script, against an in-memory host.
@Suite("Egress policy")
struct EgressTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    func engine(_ host: FakeHost) -> Engine {
        Engine(layout: layout, drivers: host.drivers, clock: { Date(timeIntervalSince1970: 1_800_000_000) })
    }

    /// Realm `main` and one space per `(name, egress YAML)`.
    func resources(_ spaces: [(String, String?)]) -> [Resource] {
        var text = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"
        for (name, egress) in spaces {
            text += "---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: \(name)}\nspec:\n  realmId: main\n"
            if let egress { text += "  network:\n    egress:\n" + egress.split(separator: "\n").map { "      \($0)\n" }.joined() }
        }
        let decoded = ManifestDecoder.decode(text, file: "egress.yaml")
        #expect(decoded.issues.isEmpty, "\(decoded.issues)")
        return decoded.resources
    }

    func record(_ host: FakeHost, _ name: String) -> SpaceRecord? {
        host.state.withLock { $0.files["/run/main/\(name)/space.yaml"] }.flatMap { try? RecordCodec.decodeSpace($0, file: "space.yaml") }
    }

    func script(_ host: FakeHost) -> String { host.state.withLock { $0.firewallScript } ?? "" }

    let denyWithRules = """
        default: deny
        allow:
          - cidr: 203.0.113.9/24
            ports: [443, 80, 443]
          - host: api.example.com
          - cidr: 198.51.100.7/32
        """

    @Test("default deny: a chain of the space's own with its allow rules then a counted drop, jumped to for traffic leaving the space")
    func denyChain() throws {
        let host = FakeHost(firewall: true)
        host.state.withLock { $0.names["api.example.com"] = [IPv4Address("192.0.2.20")!, IPv4Address("192.0.2.10")!] }
        let outcomes = try engine(host).apply(resources([("shop", denyWithRules), ("blog", nil)]))
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        let text = script(host)
        #expect(text.contains("iifname \"kuke-main-shop\" jump egress_kuke_main_shop comment \"egress\""))
        #expect(text.contains("ip daddr 203.0.113.0/24 tcp dport { 80, 443 } accept comment \"allow[0] cidr 203.0.113.0/24\""))
        #expect(text.contains("ip daddr { 192.0.2.10, 192.0.2.20 } accept comment \"allow[1] host api.example.com\""))
        #expect(text.contains("ip daddr 198.51.100.7 accept comment \"allow[2] cidr 198.51.100.7\""))
        let chain = try #require(text.range(of: "chain egress_kuke_main_shop {")).upperBound
        let lines = text[chain...].split(separator: "\n").prefix { !$0.contains("}") || $0.contains("{ ") }
        #expect(lines.last?.trimmingCharacters(in: .whitespaces) == "counter drop comment \"deny\"", "the default comes last")
        // The space without a policy has isolation only: an accept, no jump, no chain.
        #expect(!text.contains("egress_kuke_main_blog") && text.contains("iifname \"kuke-main-blog\" accept comment \"egress\""))
        #expect(record(host, "shop")?.status.egress?.addresses(of: "api.example.com").map(\.description) == ["192.0.2.10", "192.0.2.20"])
        #expect(record(host, "blog")?.status.egress == nil)
    }

    @Test("a new space that denies egress has its rules before its bridge exists; one outcome reports the table")
    func rulesBeforeBridge() throws {
        let host = FakeHost(firewall: true)
        host.state.withLock { $0.names["api.example.com"] = [IPv4Address("192.0.2.10")!] }
        let outcomes = try engine(host).apply(resources([("blog", nil), ("shop", denyWithRules)]))
        let log = host.log
        let firstReplace = try #require(log.firstIndex(of: "replaceFirewall"))
        let bridge = try #require(log.firstIndex(of: "createBridge kuke-main-shop"))
        #expect(firstReplace < bridge, "\(log)")
        #expect(log.filter { $0 == "replaceFirewall" }.count == 2, "once before (cidr rules), once after (the resolved host)")
        let firewall = outcomes.filter { $0.kind == .firewall }
        #expect(firewall.count == 1 && firewall[0].outcome == .created && firewall[0].changes.count == 2, "\(firewall)")
        #expect(script(host).contains("allow[1] host api.example.com"))
        // Nothing new: no table work before the spaces.
        let again = host.log.count
        _ = try engine(host).apply(resources([("blog", nil), ("shop", denyWithRules)]))
        #expect(!host.log[again...].contains("replaceFirewall"))
    }

    @Test("default allow, with or without rules, leaves egress open and looks nothing up")
    func allowIsOpen() throws {
        let host = FakeHost(firewall: true)
        let outcomes = try engine(host).apply(resources([("shop", "default: allow\nallow:\n  - host: api.example.com")]))
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        #expect(!script(host).contains("jump"))
        #expect(host.state.withLock { $0.lookups }.isEmpty)
    }

    @Test("a host that does not resolve fails the space but the rest converges, closed to that host, until it resolves")
    func unresolvedHost() throws {
        let host = FakeHost(firewall: true)
        let first = try engine(host).apply(resources([("shop", denyWithRules)]))
        let shop = try #require(first.first { $0.name == "shop" })
        #expect(shop.outcome == .failed && shop.failure?.reason == .egressHostUnresolved, "\(shop)")
        #expect(shop.failure?.message.contains("api.example.com") == true)
        #expect(host.state.withLock { $0.links["kuke-main-shop"] } != nil, "the bridge is made all the same")
        #expect(!script(host).contains("host api.example.com"), "no address, no rule: the deny holds")
        #expect(script(host).contains("counter drop comment \"deny\""))
        #expect(record(host, "shop")?.status.state == .failed)
        #expect(record(host, "shop")?.status.reason == .egressHostUnresolved)

        host.state.withLock { $0.names["api.example.com"] = [IPv4Address("192.0.2.10")!] }
        let second = try engine(host).apply(resources([("shop", denyWithRules)]))
        #expect(second.allSatisfy { $0.failure == nil }, "\(second)")
        #expect(script(host).contains("ip daddr 192.0.2.10 accept comment \"allow[1] host api.example.com\""))
        #expect(record(host, "shop")?.status.state == .ready)
    }

    @Test("every apply re-resolves: a rotated address replaces the old one; a failed lookup keeps the last known addresses")
    func rotation() throws {
        let host = FakeHost(firewall: true)
        host.state.withLock { $0.names["api.example.com"] = [IPv4Address("192.0.2.10")!] }
        _ = try engine(host).apply(resources([("shop", denyWithRules)]))
        host.state.withLock { $0.names["api.example.com"] = [IPv4Address("192.0.2.99")!] }
        let rotated = try engine(host).apply(resources([("shop", denyWithRules)]))
        #expect(rotated.first { $0.kind == .firewall }?.outcome == .updated)
        #expect(script(host).contains("ip daddr 192.0.2.99 accept") && !script(host).contains("192.0.2.10"))
        #expect(record(host, "shop")?.status.egress?.addresses(of: "api.example.com") == [IPv4Address("192.0.2.99")!])

        host.state.withLock { $0.names["api.example.com"] = nil }
        let outage = try engine(host).apply(resources([("shop", denyWithRules)]))
        #expect(outage.first { $0.name == "shop" }?.failure?.message.contains("keeping 1 address") == true)
        #expect(script(host).contains("ip daddr 192.0.2.99 accept"), "the last known address stays allowed")
        #expect(outage.first { $0.kind == .firewall } == nil, "the table is unchanged")
    }

    @Test("changing the policy rewrites the table; removing it drops the space's chain")
    func policyChange() throws {
        let host = FakeHost(firewall: true)
        _ = try engine(host).apply(resources([("shop", "default: deny\nallow:\n  - cidr: 10.20.0.0/16")]))
        let tightened = try engine(host).apply(resources([("shop", "default: deny")]))
        #expect(tightened.first { $0.name == "shop" }?.outcome == .updated)
        #expect(tightened.first { $0.kind == .firewall }?.outcome == .updated)
        #expect(!script(host).contains("10.20.0.0/16") && script(host).contains("egress_kuke_main_shop"))
        _ = try engine(host).apply(resources([("shop", nil)]))
        #expect(!script(host).contains("egress_kuke_main_shop"))
    }

    @Test("the planner's rule count is the count nft's listing of its own script gives")
    func countsAgree() throws {
        let shop = FirewallSpace(
            id: SpaceID(realm: "main", name: "shop"), bridge: "kuke-main-shop",
            egress: [.init(destinations: ["10.0.0.0/8"], ports: [443], label: "allow[0] cidr 10.0.0.0/8")])
        let blog = FirewallSpace(id: SpaceID(realm: "main", name: "blog"), bridge: "kuke-main-blog", egress: [])
        let desired = FirewallPlanner.desired([shop, blog])
        let listed = try NftablesListing(json: NftablesRendering.json(ofScript: desired.script(of: desired.table), tableHandle: 1))
        #expect(ObservedFirewall(listing: listed, comment: nil).ruleCount == desired.ruleCount)
        #expect(FirewallPlanner.written([shop, blog]).ruleCount == desired.ruleCount)
        #expect(
            desired.ruleCount == 12,
            "established; per space same bridge, isolate and egress; isolate kuke-*; unrecorded kuke-*; shop's allow and deny")
    }
}

/// A space whose record was lost: adopted when what is on the host is exactly kuke's, refused otherwise.
@Suite("Adoption of a space whose record was lost")
struct AdoptionTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    func engine(_ host: FakeHost) -> Engine { Engine(layout: layout, drivers: host.drivers) }

    func batch(_ names: [String]) -> [Resource] {
        [.realm(RealmManifest(metadata: ObjectMeta(name: "main"), origin: .command("test")))]
            + names.map { .space(SpaceManifest(metadata: ObjectMeta(name: $0), spec: SpaceSpec(realmId: "main"), origin: .command("test"))) }
    }

    func loseRecord(_ host: FakeHost, _ name: String) {
        host.state.withLock { state in
            state.files["/run/main/\(name)/space.yaml"] = nil
            state.files["/run/main/\(name)/network.conflist"] = nil
        }
    }

    func subnet(_ host: FakeHost, _ name: String) -> String? {
        host.state.withLock { $0.files["/run/main/\(name)/space.yaml"] }.flatMap { try? RecordCodec.decodeSpace($0, file: "x") }?.status.network?
            .subnet.description
    }

    @Test("the conflist and bridge kuke would make are adopted: same subnet, the bridge kept, not recreated")
    func adopted() throws {
        let host = FakeHost()
        _ = try engine(host).apply(batch(["a", "b"]))
        let before = subnet(host, "b")
        loseRecord(host, "b")
        let logged = host.log.count
        let outcomes = try engine(host).apply(batch(["b"]))
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        #expect(subnet(host, "b") == before && before == "10.88.1.0/24")
        #expect(!host.log[logged...].contains { $0.hasPrefix("createBridge") }, "\(host.log[logged...])")
        #expect(try engine(host).apply(batch(["a", "b"])).allSatisfy { $0.outcome == .unchanged })
    }

    @Test("a conflist that differs from kuke's by a byte is a conflict, not adopted")
    func edited() throws {
        let host = FakeHost()
        _ = try engine(host).apply(batch(["b"]))
        loseRecord(host, "b")
        host.state.withLock { $0.files["/cni/main-b.conflist"]! += " " }
        let outcome = try engine(host).apply(batch(["b"])).last
        #expect(outcome?.failure?.reason == .conflistConflict, "\(String(describing: outcome))")
        #expect(host.state.withLock { $0.files["/cni/main-b.conflist"] }?.hasSuffix(" ") == true, "left as it was")
    }

    @Test("a conflist whose subnet another space holds is a conflict")
    func subnetTaken() throws {
        let host = FakeHost()
        _ = try engine(host).apply(batch(["b"]))
        let text = try #require(host.state.withLock { $0.files["/cni/main-b.conflist"] })
        loseRecord(host, "b")
        host.state.withLock { $0.files["/cni/main-b.conflist"] = nil }  // while it is there, its range is claimed
        _ = try engine(host).apply(batch(["c"]))  // c takes the first free /24: b's
        #expect(subnet(host, "c") == "10.88.0.0/24")
        host.state.withLock { $0.files["/cni/main-b.conflist"] = text }
        #expect(try engine(host).apply(batch(["b"])).last?.failure?.reason == .conflistConflict)
    }
}

/// Records of a kuke from before the end-of-record line, and records cut short.
@Suite("Record end marker")
struct RecordMarkerTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    func batch() -> [Resource] {
        [
            .realm(RealmManifest(metadata: ObjectMeta(name: "main"), origin: .command("test"))),
            .space(SpaceManifest(metadata: ObjectMeta(name: "blog"), spec: SpaceSpec(realmId: "main"), origin: .command("test"))),
        ]
    }

    @Test("a complete record without the marker (an older kuke's) is read, and rewritten once to gain it")
    func legacy() throws {
        let host = FakeHost()
        _ = try Engine(layout: layout, drivers: host.drivers).apply(batch())
        host.state.withLock { state in
            for path in ["/run/main/blog/space.yaml", "/run/main/realm.yaml"] {
                state.files[path] = state.files[path]!.replacingOccurrences(of: RecordCodec.endMarker, with: "").replacingOccurrences(
                    of: RecordCodec.header, with: "")
            }
        }
        let upgraded = try Engine(layout: layout, drivers: host.drivers).apply(batch())
        #expect(upgraded.map(\.outcome) == [.updated, .updated], "\(upgraded)")
        #expect(upgraded[1].changes.map(\.summary) == ["update /run/main/blog/space.yaml (to the current record format)"])
        #expect(host.state.withLock { $0.files["/run/main/blog/space.yaml"] }?.hasSuffix(RecordCodec.endMarker) == true)
        #expect(host.state.withLock { $0.files["/run/main/realm.yaml"] }?.hasSuffix(RecordCodec.endMarker) == true)
        #expect(try Engine(layout: layout, drivers: host.drivers).apply(batch()).allSatisfy { $0.outcome == .unchanged })
    }

    @Test("a record cut short is refused, not read with what is left: anywhere in today's format, before status.updatedAt in an old one")
    func torn() throws {
        let host = FakeHost()
        _ = try Engine(layout: layout, drivers: host.drivers).apply(batch())
        let text = try #require(host.state.withLock { $0.files["/run/main/blog/space.yaml"] })
        let cut = String(text[..<text.range(of: "  network:")!.lowerBound])
        #expect(throws: RecordError.self) { try RecordCodec.decodeSpace(cut, file: "space.yaml") }
        host.state.withLock { $0.files["/run/main/blog/space.yaml"] = cut }
        let outcome = try Engine(layout: layout, drivers: host.drivers).apply(batch()).last
        #expect(outcome?.failure?.reason == .recordUnreadable, "\(String(describing: outcome))")
        #expect(outcome?.failure?.message.contains("cut short") == true)
        // Today's format: cut anywhere, even after updatedAt, it is refused.
        let late = String(text[..<text.range(of: "readyAt")!.lowerBound])
        #expect(late.hasPrefix(RecordCodec.header) && late.contains("updatedAt"))
        #expect(throws: RecordError.self) { try RecordCodec.decodeSpace(late, file: "space.yaml") }
        // An old record (no header) cut after updatedAt cannot be told from a complete one, unless it has egress.
        let old = late.replacingOccurrences(of: RecordCodec.header, with: "")
        #expect((try? RecordCodec.decodeSpace(old, file: "space.yaml")) != nil)
    }
}

@Suite("Isolation table and unreadable records")
struct FirewallUnreadableTests {
    @Test("while a space record cannot be read, the table is left as it is (its rules would be dropped) and the pass says so")
    func leftAlone() throws {
        let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
        let host = FakeHost(firewall: true)
        let realm = Resource.realm(RealmManifest(metadata: ObjectMeta(name: "main"), origin: .command("test")))
        func space(_ name: String) -> Resource {
            .space(SpaceManifest(metadata: ObjectMeta(name: name), spec: SpaceSpec(realmId: "main"), origin: .command("test")))
        }
        _ = try Engine(layout: layout, drivers: host.drivers).apply([realm, space("a"), space("b")])
        let before = try #require(host.state.withLock { $0.firewallScript })
        host.state.withLock { $0.files["/run/main/a/space.yaml"] = "garbage: [\n" }
        let outcomes = try Engine(layout: layout, drivers: host.drivers).apply([realm, space("b"), space("c")])
        let firewall = try #require(outcomes.first { $0.kind == .firewall })
        #expect(firewall.failure?.reason == .firewallFailed && firewall.failure?.message.contains("/run/main/a/space.yaml") == true, "\(firewall)")
        #expect(host.state.withLock { $0.firewallScript } == before, "a's rules stay")
        #expect(outcomes.first { $0.name == "b" }?.outcome == .unchanged)
        #expect(outcomes.first { $0.name == "c" }?.failure?.reason == .recordUnreadable, "no subnet is handed out either (documented)")
    }
}
