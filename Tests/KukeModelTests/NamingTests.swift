import Testing

@testable import KukeModel

@Suite("Names")
struct NamingTests {
    @Test("valid names", arguments: ["a", "0", "main", "blog-2", "a.b", "mySpace", "Main", "A1.b-C", String(repeating: "x", count: 63)])
    func valid(_ name: String) {
        #expect(ResourceName.violation(of: name) == nil)
    }

    @Test("names that differ only in case share a conflict key; the seed's mySpace gets the usual bridge scheme")
    func caseConflicts() {
        #expect(ResourceName.conflictKey("mySpace") == ResourceName.conflictKey("myspace"))
        #expect(ResourceName.conflictKey("mySpace") != ResourceName.conflictKey("my-space"))
        let id = SpaceID(realm: "main", name: "mySpace")
        #expect(id.networkName == "main-mySpace")
        #expect(BridgeName.make(for: id).hasPrefix("kuke-mai-") && BridgeName.make(for: id).utf8.count == 15)
        #expect(BridgeName.make(for: SpaceID(realm: "lab", name: "Db")) == "kuke-lab-Db")
    }

    @Test("realm.yaml is reserved for spaces only")
    func reserved() {
        #expect(ResourceName.violation(of: "realm.yaml", isSpace: true) != nil)
        #expect(ResourceName.violation(of: "realm.yaml", isSpace: false) == nil)
    }

    @Test("short names are kept as kuke-<realm>-<space>")
    func shortBridge() {
        #expect(BridgeName.make(for: SpaceID(realm: "main", name: "blog")) == "kuke-main-blog")
        #expect(BridgeName.make(for: SpaceID(realm: "ab", name: "cdefghi")) == "kuke-ab-cdefghi")  // exactly 15
        #expect(BridgeName.make(for: SpaceID(realm: "ab", name: "cdefghij")).hasPrefix("kuke-ab-"))  // 16: shortened
        #expect(!BridgeName.make(for: SpaceID(realm: "ab", name: "cdefghij")).contains("--"))
    }

    @Test("long names are shortened to 15 bytes, deterministically, with a readable head")
    func longBridge() {
        let id = SpaceID(realm: "production", name: "analytics-pipeline")
        let name = BridgeName.make(for: id)
        #expect(name.utf8.count == 15)
        #expect(name.hasPrefix("kuke-pro-"))
        #expect(name == BridgeName.make(for: id))
        #expect(BridgeName.violation(of: name) == nil)
        #expect(name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" })
    }

    @Test("every generated name fits and is distinct across many spaces")
    func noCollisionsInPractice() {
        var seen: [String: SpaceID] = [:]
        for realm in 0..<20 {
            for space in 0..<500 {
                let id = SpaceID(realm: "realm-\(realm)", name: "space-number-\(space)")
                let name = BridgeName.make(for: id)
                #expect(name.utf8.count <= 15)
                #expect(seen[name] == nil, "\(name) for \(id) and \(seen[name].map(\.description) ?? "")")
                seen[name] = id
            }
        }
    }

    @Test("the dash ambiguity of the readable form is real, so ownership is checked by the engine")
    func ambiguity() {
        #expect(BridgeName.make(for: SpaceID(realm: "a-b", name: "c")) == BridgeName.make(for: SpaceID(realm: "a", name: "b-c")))
        #expect(SpaceID(realm: "a-b", name: "c").networkName == SpaceID(realm: "a", name: "b-c").networkName)
    }

    @Test("interface name rules", arguments: [("kuke-main-blog", true), ("kuke-main-analytics", false), ("", false), ("a/b", false), ("a b", false)])
    func interfaceNames(_ name: String, _ valid: Bool) {
        #expect((BridgeName.violation(of: name) == nil) == valid)
    }

    @Test("cniConfigPath is normalized or refused")
    func cniPaths() throws {
        #expect(try CNIConfigPath.normalize("/etc/cni/net.d/").get() == "/etc/cni/net.d")
        #expect(try CNIConfigPath.normalize("/etc//cni/./net.d").get() == "/etc/cni/net.d")
        #expect((try? CNIConfigPath.normalize("/etc/../x").get()) == nil)
        #expect((try? CNIConfigPath.normalize("relative").get()) == nil)
        #expect((try? CNIConfigPath.normalize("").get()) == nil)
    }
}

@Suite("Label selectors")
struct LabelSelectorTests {
    @Test(
        "kubectl's -l forms, comma for AND",
        arguments: [
            ("tier=web", true), ("tier==web", true), ("tier!=web", false), ("tier", true), ("!tier", false), ("!team", true),
            ("tier=web,env=prod", true), ("tier=web,env=dev", false), ("example.com/owner=ops", true),
        ])
    func matching(_ text: String, _ expected: Bool) throws {
        let labels = ["tier": "web", "env": "prod", "example.com/owner": "ops"]
        #expect(try LabelSelector(parsing: text).matches(labels) == expected)
    }

    @Test("a selector that breaks the label rules is refused with the part at fault", arguments: ["", "tier=web,", "Bad Key=x", "tier=a b", "!"])
    func refused(_ text: String) {
        #expect(throws: SelectorError.self) { try LabelSelector(parsing: text) }
    }
}

@Suite("host selectors and host configuration")
struct HostSelectorTests {
    @Test("matchLabels and each operator, as Kubernetes matches them; an empty selector selects every host")
    func matching() {
        let selector = HostSelector(
            matchLabels: [("role", "web")],
            matchExpressions: [
                .init(key: "site", operator: .in, values: ["fra", "ams"]), .init(key: "tier", operator: .notIn, values: ["test"]),
                .init(key: "zone", operator: .exists), .init(key: "gpu", operator: .doesNotExist),
            ])
        #expect(selector.matches(["role": "web", "site": "fra", "zone": "a"]))
        #expect(selector.matches(["role": "web", "site": "ams", "zone": "a", "tier": "prod"]))
        #expect(!selector.matches(["role": "web", "site": "nyc", "zone": "a"]))
        #expect(!selector.matches(["role": "web", "site": "fra", "zone": "a", "tier": "test"]))
        #expect(!selector.matches(["role": "web", "site": "fra"]))
        #expect(!selector.matches(["role": "web", "site": "fra", "zone": "a", "gpu": "1"]))
        #expect(!selector.matches(["role": "db", "site": "fra", "zone": "a"]))
        #expect(HostSelector(matchLabels: [], matchExpressions: []).matches([:]))
        #expect(selector.description == "role=web,site in (fra,ams),tier notin (test),zone,!gpu")
    }

    @Test("a bad selector is refused at its line and column with the rule broken")
    func validation() {
        let text = """
            kind: Space
            metadata: {name: web}
            spec:
              realmId: main
              hostSelector:
                matchLabels: {"bad key!": web}
                matchExpressions:
                  - {key: site, operator: In}
                  - {key: gpu, operator: Exists, values: [a]}
                  - {key: site, operator: Near, values: [x]}
                  - {operator: In, values: [x]}
            """
        let (resources, issues) = ManifestDecoder.decode(text, file: "web.yaml")
        #expect(resources.isEmpty)
        let lines = issues.map(\.description)
        #expect(lines.contains { $0.hasPrefix("web.yaml:6:19:") && $0.hasSuffix("[label]") }, "\(lines)")
        #expect(
            lines.contains { $0.hasPrefix("web.yaml:8:9:") && $0.contains("matchExpressions[0].values must not be empty for In [host-selector]") },
            "\(lines)")
        #expect(lines.contains { $0.contains("matchExpressions[1].values must be absent for Exists [host-selector]") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("web.yaml:10:") && $0.contains("\"Near\" is not one of") }, "\(lines)")
        #expect(lines.contains { $0.contains("matchExpressions[3].key is required [required]") }, "\(lines)")
    }

    @Test("a host configuration: labels and layout with their positions; every problem at its place")
    func hostConfig() throws {
        let good = """
            apiVersion: v1beta1
            kind: HostConfig
            spec:
              labels: {site: fra, role: web}
              runPath: /var/lib/kukeon
              subnetPool: 10.90.0.0/16
              cgroupDriver: systemd
            """
        let config = try HostConfig.decode(good, file: "kuke.yaml").get()
        #expect(config.labels["site"]?.value == "fra" && config.labels["site"]?.position.description == "kuke.yaml:4:18")
        #expect(config.layout["runPath"]?.value == "/var/lib/kukeon" && config.layout["subnetPool"]?.position.description == "kuke.yaml:6:15")
        #expect(config.layout["cgroupDriver"]?.value == "systemd")

        let bad = """
            apiVersion: v1beta1
            kind: HostConfg
            spec:
              labels: {site: "not ok!"}
              runPath: relative/path
              subnetPool: 10.90.0.0/25
              runPth: /x
              cgroupDriver: systemd.slice
            """
        guard case .failure(let issues) = HostConfig.decode(bad, file: "kuke.yaml") else {
            Issue.record("a bad host configuration was accepted")
            return
        }
        let lines = issues.issues.map(\.description)
        #expect(lines.contains { $0.hasPrefix("kuke.yaml:2:7:") && $0.contains("kind \"HostConfg\" is not a host configuration") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("kuke.yaml:4:18:") && $0.hasSuffix("[label]") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("kuke.yaml:5:12:") && $0.contains("must be an absolute path") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("kuke.yaml:6:15:") && $0.contains("smaller than one /24") }, "\(lines)")
        #expect(
            lines.contains { $0.hasPrefix("kuke.yaml:7:3:") && $0.contains("unknown field \"spec.runPth\"") && $0.contains("runPath") }, "\(lines)")
        #expect(
            lines.contains { $0.hasPrefix("kuke.yaml:8:17:") && $0.contains("\"systemd.slice\" is not a cgroup driver; use cgroupfs or systemd") },
            "\(lines)")
    }
}
