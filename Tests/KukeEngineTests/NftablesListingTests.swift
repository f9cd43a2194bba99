import Foundation
import KukeModel
import KukeTestSupport
import Testing

@testable import KukeEngine

/// The table kuke writes for `examples/`, as the real nft listed it (Tests/Fixtures/nftables,
/// made by its `capture.sh` in a sandbox: `kuke apply -f examples/`, then pings the table
/// drops, then `nft -j list table inet kukeon`).
enum NftablesFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/nftables")

    static func text(_ name: String) throws -> String { try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8) }

    /// The table's comment as the capture's text listing shows it.
    static let comment = "kuke:48382e5a41988e92 run:/mnt/kukeon"

    static let blog = FirewallSpace(id: SpaceID(realm: "main", name: "blog"), bridge: "kuke-main-blog", egress: nil)
    static let analytics = FirewallSpace(id: SpaceID(realm: "main", name: "analytics-pipeline"), bridge: "kuke-mai-500c1c", egress: nil)
    static let shop = FirewallSpace(
        id: SpaceID(realm: "main", name: "shop"), bridge: "kuke-main-shop",
        egress: [
            .init(destinations: ["10.20.0.0/16"], ports: [443, 5432], label: "allow[0] cidr 10.20.0.0/16"),
            .init(destinations: ["192.0.2.53"], ports: [], label: "allow[1] cidr 192.0.2.53"),
        ])
    static let spaces = [blog, analytics, shop]

    /// nft's text listing (`nft list table`) as `FirewallTable.lines` gives a table: chains and
    /// rules, the table's own lines, blank lines and counter values left out.
    static func lines(ofListing text: String) -> [String] {
        text.split(separator: "\n").compactMap { raw -> String? in
            let line = raw.trimmingCharacters(in: .whitespaces).replacing(/counter packets \d+ bytes \d+/, with: "counter")
            if line.isEmpty || line == "}" || line.hasPrefix("table ") || line.hasPrefix("comment ") { return nil }
            return line.hasPrefix("chain ") ? line : "  " + line
        }
    }

    /// The fixture's JSON with `edit` applied to its list of objects.
    static func edited(_ edit: (inout [JSONValue]) -> Void) throws -> String {
        var objects = try JSONParser.parse(text("examples.json"))["nftables"]?.arrayValue ?? []
        edit(&objects)
        return JSONValue.object(["nftables": .array(objects)]).compactText
    }
}

@Suite("nftables JSON listing, captured from the real nft")
struct NftablesListingTests {
    @Test("the captured table decodes to kuke's rule count, the drops per bridge and the lines kuke wrote")
    func captured() throws {
        let listing = try NftablesListing(json: NftablesFixture.text("examples.json"))
        #expect(listing.tableHandle == 2)
        let observed = ObservedFirewall(listing: listing, comment: NftablesFixture.comment)
        #expect(observed.fingerprint == "48382e5a41988e92")
        #expect(observed.owner == "run:/mnt/kukeon")
        #expect(
            observed.ruleCount == 15,
            "established; same bridge and isolate for three spaces; isolate kuke-*; two accepts and shop's jump; unrecorded kuke-*; two allows and deny"
        )
        // 3 pings blog -> shop, 2 shop -> blog (isolate), 4 shop -> outside (deny).
        #expect(observed.drops == ["kuke-main-blog": 3, "kuke-main-shop": 6, "kuke-mai-500c1c": 0])
        // The JSON's rules read as nft's own text listing of the same table, and as kuke's table.
        #expect(observed.lines == NftablesFixture.lines(ofListing: try NftablesFixture.text("examples.nft")))
        let desired = FirewallPlanner.desired(NftablesFixture.spaces, owner: FirewallPlanner.owner(runPath: "/mnt/kukeon"))
        #expect(observed.table == desired.table && observed.lines == desired.table.lines)
        #expect(desired.fingerprint == observed.fingerprint && desired.ruleCount == observed.ruleCount)
        #expect(FirewallPlanner.plan(NftablesFixture.spaces, observed: observed, owner: "run:/mnt/kukeon") == nil, "converged")
        #expect(observed.lines.contains("  ip daddr 10.20.0.0/16 tcp dport { 443, 5432 } accept comment \"allow[0] cidr 10.20.0.0/16\""))
        #expect(observed.lines.first == "chain forward {" && observed.lines[1] == "  type filter hook forward priority filter; policy accept;")
    }

    @Test("holding: every space whose rules are all in the captured table; a missing rule or chain drops only its space")
    func holding() throws {
        let all = Set(NftablesFixture.spaces.map(\.id))
        let observed = ObservedFirewall(listing: try NftablesListing(json: NftablesFixture.text("examples.json")), comment: nil)
        #expect(observed.holding(NftablesFixture.spaces) == all)
        let withoutDeny = try NftablesFixture.edited { objects in objects.removeAll { $0["rule"]?["comment"]?.stringValue == "deny" } }
        let flushed = ObservedFirewall(listing: try NftablesListing(json: withoutDeny), comment: nil)
        #expect(flushed.holding(NftablesFixture.spaces) == all.subtracting([NftablesFixture.shop.id]))
        #expect(flushed.ruleCount == 14)
        let withoutBlog = try NftablesFixture.edited { objects in
            objects.removeAll { $0["rule"]?["expr"]?.compactText.contains("\"kuke-main-blog\"") == true }
        }
        let blogless = ObservedFirewall(listing: try NftablesListing(json: withoutBlog), comment: nil)
        #expect(blogless.holding(NftablesFixture.spaces) == all.subtracting([NftablesFixture.blog.id]))
        #expect(blogless.drops["kuke-main-blog"] == nil)
    }

    @Test("a comment that is not kuke's gives no fingerprint and no owner; one without an owner gives the fingerprint alone")
    func comments() throws {
        let listing = try NftablesListing(json: NftablesFixture.text("examples.json"))
        #expect(ObservedFirewall(listing: listing, comment: nil).fingerprint == nil)
        #expect(ObservedFirewall(listing: listing, comment: "written by hand").fingerprint == nil)
        let legacy = ObservedFirewall(listing: listing, comment: "kuke:48382e5a41988e92")
        #expect(legacy.fingerprint == "48382e5a41988e92" && legacy.owner == nil)
    }

    @Test("statements kuke never writes are kept, as nft's JSON, so the diff shows them and no desired rule matches them")
    func foreignStatements() throws {
        let json = try NftablesFixture.edited { objects in
            objects.append(
                try! JSONParser.parse(
                    #"{"rule": {"family": "inet", "table": "kukeon", "chain": "forward", "handle": 40, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1}}, {"log": {"prefix": "x"}}, {"accept": null}]}}"#
                ))
        }
        let observed = ObservedFirewall(listing: try NftablesListing(json: json), comment: nil)
        #expect(
            observed.lines.contains(#"  {"match":{"left":{"meta":{"key":"mark"}},"op":"==","right":1}} {"log":{"prefix":"x"}} accept"#),
            "\(observed.lines)")
        #expect(observed.ruleCount == 16, "every rule counts, commented or not")
        #expect(observed.holding(NftablesFixture.spaces).count == 3, "every space's rules are still there")
        let desired = FirewallPlanner.desired(NftablesFixture.spaces, owner: "run:/mnt/kukeon")
        #expect(!observed.table.sameRules(as: desired.table), "the added rule is drift")
    }

    @Test(
        "output that is not nft's listing of one table is an error, never an empty table",
        arguments: [
            "", "[]", #"{"nftables": {}}"#, #"{"nftables": [{"metainfo": {}}]}"#,
            #"{"nftables": [{"table": {"name": "kukeon"}}]}"#,
            #"{"nftables": [{"table": {"handle": 1}}, {"table": {"handle": 2}}]}"#,
            #"{"nftables": [{"table": {"handle": 1}}, {"rule": {"chain": "forward"}}]}"#,
            #"{"nftables": [{"table": {"handle": 1}}, {"chain": {"handle": 1}}]}"#,
        ])
    func malformed(_ json: String) {
        #expect(throws: NftablesListing.DecodingError.self) { try NftablesListing(json: json) }
    }
}

@Suite("FakeHost lists the table as the real nft does")
struct FakeHostNftablesTests {
    @Test("applying examples/ on FakeHost gives the captured JSON, handles included, counters aside, and the captured comment")
    func matchesCapture() throws {
        let layout = HostLayout(runPath: "/mnt/kukeon", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
        let examples = NftablesFixture.directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples")
        var resources: [Resource] = []
        // The files the fixture was captured from (examples/web.yaml came later; its dns and IPv6
        // rules are checked against the installed nft by NftablesKernelTests).
        for name in ["00-realm.yaml", "analytics.yaml", "blog.yaml", "shop.yaml"] {
            let decoded = ManifestDecoder.decode(try String(contentsOf: examples.appendingPathComponent(name), encoding: .utf8), file: name)
            #expect(decoded.issues.isEmpty, "\(decoded.issues)")
            resources += decoded.resources
        }
        let host = FakeHost(firewall: true)
        let outcomes = try Engine(layout: layout, drivers: host.drivers).apply(resources)
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        let listed = try #require(try host.firewallListing())
        #expect(listed.comment == NftablesFixture.comment)
        func zeroingCounters(_ value: JSONValue) -> JSONValue {
            switch value {
            case .object(let members):
                if members["packets"] != nil, members["bytes"] != nil { return .object(["packets": .number(0), "bytes": .number(0)]) }
                return .object(members.mapValues(zeroingCounters))
            case .array(let items): return .array(items.map(zeroingCounters))
            default: return value
            }
        }
        let captured = zeroingCounters(try JSONParser.parse(NftablesFixture.text("examples.json")))
        #expect(try JSONParser.parse(listed.json) == captured)
        let observed = try #require(try host.drivers.firewall?.observe())
        #expect(observed.fingerprint == "48382e5a41988e92" && observed.owner == "run:/mnt/kukeon" && observed.ruleCount == 15)
        #expect(observed.lines == NftablesFixture.lines(ofListing: try NftablesFixture.text("examples.nft")))
    }

    @Test("a script line FakeHost cannot render as nft would is an error, not a guess")
    func unknownWords() throws {
        let host = FakeHost(firewall: true)
        host.state.withLock { $0.firewallScript = "table inet kukeon {\n  chain forward {\n    log prefix \"x\" accept\n  }\n}\n" }
        #expect(throws: HostError.self) { try host.drivers.firewall?.observe() }
    }
}

@Suite("A pass reads the table's summary; the listing only for a change")
struct FirewallSummaryTests {
    static let layout = HostLayout(runPath: "/mnt/kukeon", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
    static let manifest = """
        apiVersion: v1beta1
        kind: Realm
        metadata: {name: main}
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: shop}
        spec:
          realmId: main
          network: {egress: {default: deny, allow: [{cidr: 10.20.0.0/16, ports: [443]}]}}
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: blog}
        spec: {realmId: main}
        """

    @Test("FakeHost's summary is its listing's fingerprint, owner and rule count")
    func summaryMatchesListing() throws {
        let host = FakeHost(firewall: true)
        let engine = Engine(layout: Self.layout, drivers: host.drivers)
        #expect(try host.drivers.firewall?.summary() == nil)
        _ = try engine.apply(ManifestDecoder.decode(Self.manifest, file: "m.yaml").resources)
        let summary = try #require(try host.drivers.firewall?.summary())
        var listed = try #require(try host.drivers.firewall?.observe()).summary
        listed.digest = summary.digest  // a listing gives no digest
        #expect(summary == listed && summary.digest != nil)
        #expect(
            summary.ruleCount == 11,
            "established; same bridge and isolate for two spaces; isolate kuke-*; blog's accept and shop's jump; unrecorded kuke-*; shop's allow and deny"
        )
    }

    @Test("an unchanged apply and diff list nothing; a chain flushed by hand is seen from the count, listed once for the diff, and repaired")
    func listingOnlyForChange() throws {
        let host = FakeHost(firewall: true)
        let engine = Engine(layout: Self.layout, drivers: host.drivers)
        let resources = ManifestDecoder.decode(Self.manifest, file: "m.yaml").resources
        _ = try engine.apply(resources)
        host.state.withLock { $0.firewallListings = 0 }
        #expect(try engine.apply(resources).allSatisfy { $0.outcome == .unchanged })
        #expect(try engine.apply(resources, options: ApplyOptions(dryRun: true)).allSatisfy { $0.outcome == .unchanged })
        #expect(host.state.withLock { $0.firewallListings } == 0)

        // `nft flush chain inet kukeon egress_kuke_main_shop`: the fingerprint is the same, the count is not.
        host.state.withLock { state in
            let lines = state.firewallScript!.split(separator: "\n", omittingEmptySubsequences: false)
            var inShop = false
            state.firewallScript = lines.filter { line in
                if line.contains("chain egress_kuke_main_shop {") {
                    inShop = true
                } else if line.trimmingCharacters(in: .whitespaces) == "}" {
                    inShop = false
                }
                return !(inShop && line.contains("comment"))
            }.joined(separator: "\n")
        }
        let diff = try engine.apply(resources, options: ApplyOptions(dryRun: true))
        let change = try #require(diff.first { $0.kind == .firewall }?.changes.first)
        #expect(change.action == .update)
        #expect(
            change.diff?.contains("+  ip daddr 10.20.0.0/16 tcp dport 443 accept comment \"allow[0] cidr 10.20.0.0/16\"") == true,
            "\(change.diff ?? "")")
        #expect(host.state.withLock { $0.firewallListings } == 1)
        #expect(try engine.apply(resources).contains { $0.kind == .firewall && $0.outcome == .updated })
        #expect(try engine.apply(resources).allSatisfy { $0.outcome == .unchanged })
    }

    /// The script with `line` (a rule, as kuke writes it) replaced by `with`.
    static func tamper(_ host: FakeHost, _ line: String, with replacement: String) {
        host.state.withLock { state in
            #expect(state.firewallScript?.contains(line) == true, "\(line)")
            state.firewallScript = state.firewallScript?.replacingOccurrences(of: line, with: replacement)
        }
    }

    @Test(
        "tampering is drift: an accept added with no comment, an isolate rule whose verdict changed (comment kept); diff shows it, apply repairs it")
    func tampering() throws {
        let host = FakeHost(firewall: true)
        let engine = Engine(layout: Self.layout, drivers: host.drivers)
        let resources = ManifestDecoder.decode(Self.manifest, file: "m.yaml").resources
        _ = try engine.apply(resources)
        let written = try #require(host.state.withLock { $0.firewallScript })
        let established = "ct state established,related accept comment \"established\""
        let opened = "iifname \"kuke-main-blog\" oifname \"kuke-main-shop\" accept"
        let isolate = "iifname \"kuke-*\" oifname \"kuke-*\" counter drop comment \"isolate kuke-*\""
        for (line, replacement) in [
            (established, established + "\n    " + opened),
            (isolate, isolate.replacingOccurrences(of: "drop", with: "accept")),
        ] {
            Self.tamper(host, line, with: replacement)
            let diff = try engine.apply(resources, options: ApplyOptions(dryRun: true))
            let change = try #require(diff.first { $0.kind == .firewall }?.changes.first, "\(replacement)")
            let shown = change.diff ?? ""
            #expect(shown.contains("-  " + replacement.components(separatedBy: "\n    ").last!), "\(shown)")
            let repaired = try engine.apply(resources)
            #expect(repaired.contains { $0.kind == .firewall && $0.outcome == .updated }, "\(repaired)")
            #expect(host.state.withLock { $0.firewallScript } == written)
            #expect(try engine.apply(resources).allSatisfy { $0.outcome == .unchanged })
        }
    }

    @Test(
        "the digest recorded after a write spares the listing; when the record is lost, the table is listed once, compared as data, and recorded again"
    )
    func digestRecord() throws {
        let host = FakeHost(firewall: true)
        let engine = Engine(layout: Self.layout, drivers: host.drivers)
        let resources = ManifestDecoder.decode(Self.manifest, file: "m.yaml").resources
        _ = try engine.apply(resources)
        let record = try #require(host.state.withLock { $0.files[Self.layout.firewallDigestPath] })
        let summary = try #require(try host.drivers.firewall?.summary())
        #expect(record == FirewallDigest(fingerprint: summary.fingerprint ?? "", digest: summary.digest ?? "").text)
        host.state.withLock {
            $0.files[Self.layout.firewallDigestPath] = nil
            $0.firewallListings = 0
        }
        #expect(try engine.apply(resources).allSatisfy { $0.outcome == .unchanged })
        #expect(host.state.withLock { ($0.firewallListings, $0.files[Self.layout.firewallDigestPath]) } == (1, record))
        #expect(try engine.apply(resources).allSatisfy { $0.outcome == .unchanged })
        #expect(host.state.withLock { $0.firewallListings } == 1, "listed once")
        #expect(FirewallDigest(text: "garbage") == nil && FirewallDigest(text: record) != nil)
    }

    @Test("a dormant table is drift, rewritten without a listing (nft 1.0.6 cannot print its flags in JSON); a recorded digest spares the listing")
    func dormant() {
        let spaces = NftablesFixture.spaces
        let desired = FirewallPlanner.desired(spaces, owner: "run:/x")
        let recorded = FirewallDigest(fingerprint: desired.fingerprint, digest: "d1")
        var summary = FirewallSummary(fingerprint: desired.fingerprint, ruleCount: desired.ruleCount, owner: "run:/x", digest: "d1", dormant: true)
        var listings = 0
        let list = { () -> ObservedFirewall? in
            listings += 1
            return nil
        }
        let change = FirewallPlanner.plan(spaces, summary: summary, recorded: recorded, owner: "run:/x", observed: list)
        #expect(change?.action == .update && listings == 0)
        #expect(change?.diff?.contains("-# table inet kukeon, fingerprint \(desired.fingerprint), \(desired.ruleCount) rules, dormant") == true)
        summary.dormant = false
        #expect(FirewallPlanner.plan(spaces, summary: summary, recorded: recorded, owner: "run:/x", observed: list) == nil && listings == 0)
        summary.digest = "d2"
        #expect(FirewallPlanner.plan(spaces, summary: summary, recorded: recorded, owner: "run:/x", observed: list) != nil && listings == 1)
    }
}

/// The rendering is pinned: a change to the table kuke writes must bump `FirewallPlanner.format`,
/// or kukes of two versions would take each other's tables for their own (same fingerprint,
/// other rules). Update both figures below together with the format.
@Suite("The isolation table's format")
struct FirewallPlannerGoldenTests {
    @Test("the script of the examples' spaces hashes to its pinned value, and its fingerprint names the format")
    func pinned() {
        let desired = FirewallPlanner.desired(NftablesFixture.spaces, unrecorded: ["kuke-old"], owner: "run:/mnt/kukeon")
        let script = desired.script(of: desired.table)
        #expect(FirewallPlanner.format == "kuke-table/3")
        #expect(String(BridgeName.fnv1a64(Array(script.utf8)), radix: 16) == Self.scriptDigest, "\(script)")
        #expect(desired.fingerprint == Self.fingerprint)
        #expect(desired.ruleCount == desired.table.ruleCount)
    }

    static let scriptDigest = "459d1b7d877575c9"
    static let fingerprint = "cafc6380620011de"
}
