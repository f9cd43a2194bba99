import Testing

@testable import KukeModel

/// One bad manifest, the rule it breaks, where, and words the message must contain.
struct BadManifest: CustomTestStringConvertible, Sendable {
    var label: String
    var yaml: String
    var rule: ManifestRule
    var line: Int
    var column: Int
    var message: String

    var testDescription: String { label }
}

let realmSpace = "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: NAME\nspec:\n  realmId: main\n"

func space(name: String) -> String { realmSpace.replacingOccurrences(of: "NAME", with: name) }

let badManifests: [BadManifest] = [
    BadManifest(
        label: "YAML syntax", yaml: "kind: Space\nmetadata:\n  name: [a\n", rule: .yamlSyntax, line: 4, column: 1, message: "YAML syntax error"),
    BadManifest(
        label: "tab indentation", yaml: "kind: Space\nmetadata:\n\tname: a\n", rule: .yamlSyntax, line: 3, column: 1, message: "YAML syntax error"),
    BadManifest(
        label: "duplicate key", yaml: "kind: Space\nmetadata:\n  name: a\n  name: b\nspec: {realmId: m}\n", rule: .yamlSyntax, line: 3, column: 3,
        message: "duplicate key \"name\""),
    BadManifest(
        label: "wrong apiVersion", yaml: "apiVersion: v1\nkind: Space\nmetadata: {name: a}\nspec: {realmId: m}\n", rule: .apiVersion, line: 1,
        column: 13, message: "apiVersion \"v1\" is not supported"),
    BadManifest(
        label: "unknown kind", yaml: "apiVersion: v1beta1\nkind: Stack\nmetadata: {name: a}\n", rule: .kind, line: 2, column: 7,
        message: "kind \"Stack\" is not reconciled"),
    BadManifest(
        label: "missing kind", yaml: "apiVersion: v1beta1\nmetadata: {name: a}\n", rule: .required, line: 1, column: 1, message: "kind is required"),
    BadManifest(label: "not a mapping", yaml: "- a\n- b\n", rule: .documentShape, line: 1, column: 1, message: "must be a mapping"),
    BadManifest(
        label: "missing name", yaml: "kind: Space\nmetadata: {}\nspec: {realmId: m}\n", rule: .required, line: 2, column: 11,
        message: "metadata.name is required"),
    BadManifest(
        label: "name ..", yaml: space(name: "'..'"), rule: .name, line: 4, column: 9, message: "must start with a letter or a digit"),
    BadManifest(label: "name a/b", yaml: space(name: "a/b"), rule: .name, line: 4, column: 9, message: "must not contain \"/\""),
    BadManifest(label: "name a_b", yaml: space(name: "a_b"), rule: .name, line: 4, column: 9, message: "must not contain \"_\""),
    BadManifest(
        label: "name 64 characters", yaml: space(name: String(repeating: "a", count: 64)), rule: .name, line: 4, column: 9,
        message: "is 64 characters long; at most 63"),
    BadManifest(label: "name empty", yaml: space(name: "''"), rule: .name, line: 4, column: 9, message: "must not be empty"),
    BadManifest(
        label: "name with control character", yaml: space(name: "\"a\\tb\""), rule: .name, line: 4, column: 9, message: "control character U+0009"),
    BadManifest(label: "name look-alike", yaml: space(name: "blоg"), rule: .name, line: 4, column: 9, message: "U+043E"),
    BadManifest(
        label: "name is a number", yaml: space(name: "123"), rule: .fieldType, line: 4, column: 9, message: "expected a string, found the integer 123"
    ),
    BadManifest(
        label: "name collides with cgroup files", yaml: space(name: "cpu.max"), rule: .name, line: 4, column: 9,
        message: "collide with cgroup interface files"),
    BadManifest(
        label: "missing realmId", yaml: "kind: Space\nmetadata:\n  name: a\nspec:\n  cniConfigPath: /etc/cni\n", rule: .required, line: 5, column: 3,
        message: "spec.realmId is required"),
    BadManifest(
        label: "invalid realmId", yaml: "kind: Space\nmetadata:\n  name: a\nspec:\n  realmId: Ma_in\n", rule: .realmId, line: 5, column: 12,
        message: "spec.realmId \"Ma_in\" is not a valid realm name"),
    BadManifest(
        label: "relative cniConfigPath", yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a") + "  cniConfigPath: etc/cni\n",
        rule: .cniConfigPath, line: 7, column: 18, message: "must be an absolute path"),
    BadManifest(
        label: "dotted cniConfigPath", yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a") + "  cniConfigPath: /etc/../tmp\n",
        rule: .cniConfigPath, line: 7, column: 18, message: "must not contain \"..\" segments"),
    BadManifest(
        label: "unknown field", yaml: "kind: Space\nmetadata:\n  name: a\nspec:\n  realmId: m\n  realmID: m\n", rule: .unknownField, line: 6,
        column: 3, message: "unknown field \"spec.realmID\""),
    BadManifest(
        label: "unknown nested field", yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a") + "  network:\n    egres: {}\n",
        rule: .unknownField, line: 8, column: 5, message: "unknown field \"spec.network.egres\" (did you mean \"egress\"?)"),
    BadManifest(
        label: "egress default not allow/deny",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a") + "  network:\n    egress:\n      default: maybe\n", rule: .fieldValue, line: 9,
        column: 16, message: "\"maybe\" is not one of"),
    BadManifest(
        label: "port out of range",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a")
            + "  network:\n    egress:\n      allow:\n      - cidr: 10.0.0.0/8\n        ports: [65536]\n", rule: .fieldValue, line: 11, column: 17,
        message: "65536 is out of range 1...65535"),
    BadManifest(
        label: "boolean expected",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a") + "  defaults:\n    container:\n      readOnlyRootFilesystem: maybe\n",
        rule: .fieldType, line: 9, column: 31, message: "expected a boolean"),
    BadManifest(
        label: "labels not a map", yaml: "kind: Space\nmetadata:\n  name: a\n  labels: [x]\nspec: {realmId: m}\n", rule: .fieldType, line: 4,
        column: 11, message: "expected a mapping of strings"),
    BadManifest(
        label: "realm unknown spec field", yaml: "kind: Realm\nmetadata: {name: r}\nspec:\n  namespce: x\n", rule: .unknownField, line: 4, column: 3,
        message: "unknown field \"spec.namespce\""),
    BadManifest(
        label: "egress rule with an empty ports list",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a")
            + "  network:\n    egress:\n      default: deny\n      allow:\n      - cidr: 10.0.0.0/8\n        ports: []\n", rule: .fieldValue,
        line: 12, column: 16, message: "spec.network.egress.allow[0].ports: is empty; leave ports out to allow every protocol and port"),
    BadManifest(
        label: "egress rule with both host and cidr",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a")
            + "  network:\n    egress:\n      allow:\n      - {host: a.example, cidr: 10.0.0.0/8}\n",
        rule: .fieldValue, line: 10, column: 9, message: "give host or cidr, not both"),
    BadManifest(
        label: "egress rule with neither host nor cidr",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a") + "  network:\n    egress:\n      allow:\n      - ports: [443]\n",
        rule: .fieldValue, line: 10, column: 9, message: "give one of host or cidr"),
    BadManifest(
        label: "egress rule with a bad CIDR",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a") + "  network:\n    egress:\n      allow:\n      - cidr: 10.0.0.0/33\n",
        rule: .fieldValue, line: 10, column: 15, message: "is not an IPv4 network in CIDR form"),
    BadManifest(
        label: "egress rule with a bad host",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a") + "  network:\n    egress:\n      allow:\n      - host: \"bad_host.example\"\n",
        rule: .fieldValue, line: 10, column: 15, message: "is not a DNS name"),
    BadManifest(
        label: "egress port 0",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a")
            + "  network:\n    egress:\n      allow:\n      - cidr: 10.0.0.0/8\n        ports: [0]\n",
        rule: .fieldValue, line: 11, column: 17, message: "0 is out of range 1...65535"),
    BadManifest(
        label: "egress port with an unknown protocol",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a")
            + "  network:\n    egress:\n      allow:\n      - cidr: 10.0.0.0/8\n        ports: [443, \"53/tcpp\"]\n",
        rule: .fieldValue, line: 11, column: 22,
        message: "spec.network.egress.allow[0].ports[1]: \"53/tcpp\": protocol \"tcpp\" is not one of tcp, udp, sctp"),
    BadManifest(
        label: "egress port range backwards",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a")
            + "  network:\n    egress:\n      allow:\n      - cidr: 10.0.0.0/8\n        ports: [443, \"100-50/udp\"]\n",
        rule: .fieldValue, line: 11, column: 22, message: "\"100-50/udp\": the range starts above its end"),
    BadManifest(
        label: "egress icmp with a port",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a")
            + "  network:\n    egress:\n      allow:\n      - cidr: 10.0.0.0/8\n        ports: [443, icmp/udp]\n",
        rule: .fieldValue, line: 11, column: 22, message: "icmp has no ports"),
    BadManifest(
        label: "egress port out of range in a string",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a")
            + "  network:\n    egress:\n      allow:\n      - cidr: 10.0.0.0/8\n        ports: [443, \"1-70000\"]\n",
        rule: .fieldValue, line: 11, column: 22, message: "port 70000 is out of range 1...65535"),
    BadManifest(
        label: "egress port that is a word",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a")
            + "  network:\n    egress:\n      allow:\n      - cidr: 10.0.0.0/8\n        ports: [443, https]\n",
        rule: .fieldValue, line: 11, column: 22, message: "is not a port entry: write PORT[/PROTO] or FROM-TO[/PROTO]"),
    BadManifest(
        label: "egress port that is a boolean",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a")
            + "  network:\n    egress:\n      allow:\n      - cidr: 10.0.0.0/8\n        ports: [443, true]\n",
        rule: .fieldType, line: 11, column: 22, message: "expected a port (like 443"),
    BadManifest(
        label: "egress dns not allow/deny",
        yaml: realmSpace.replacingOccurrences(of: "NAME", with: "a") + "  network:\n    egress:\n      default: deny\n      dns: yes-please\n",
        rule: .fieldValue, line: 10, column: 12, message: "\"yes-please\" is not one of \"allow\", \"deny\""),
]

@Suite("Manifest validation")
struct ManifestValidationTests {
    @Test("rejects bad input with rule and position", arguments: badManifests)
    func rejects(_ bad: BadManifest) throws {
        let (resources, issues) = ManifestDecoder.decode(bad.yaml, file: "space.yaml")
        #expect(resources.isEmpty)
        let issue = try #require(issues.first { $0.rule == bad.rule }, "issues: \(issues)")
        #expect(issue.position == SourcePosition(file: "space.yaml", line: bad.line, column: bad.column), "\(issue)")
        #expect(issue.message.contains(bad.message), "\(issue.message)")
        #expect(issue.description.hasPrefix("space.yaml:\(bad.line):\(bad.column): "))
        #expect(issue.description.hasSuffix("[\(bad.rule.rawValue)]"))
    }

    @Test("collects every issue of a batch, not just the first")
    func collectsAll() {
        let yaml = "apiVersion: v1\nkind: Space\nmetadata:\n  name: A_b\nspec:\n  realmID: x\n---\nkind: Stack\nmetadata: {name: s}\n"
        let (_, issues) = ManifestDecoder.decode(yaml, file: "f.yaml")
        #expect(Set(issues.map(\.rule)) == [.apiVersion, .name, .unknownField, .required, .kind])
    }

    @Test("one problem, one report: a mistyped required field is a type error, not also 'required'")
    func oneReportPerProblem() {
        let typed = ManifestDecoder.decode("kind: Space\nmetadata: {name: a}\nspec: {realmId: yes}\n", file: "f.yaml").issues
        #expect(typed.map(\.rule) == [.fieldType])
        let null = ManifestDecoder.decode("kind: Space\nmetadata: {name: a}\nspec: {realmId: }\n", file: "f.yaml").issues
        #expect(null.map(\.rule) == [.required])
        // Checks go on after a missing name: the bad path is reported too.
        let both = ManifestDecoder.decode("kind: Space\nmetadata: {}\nspec: {realmId: m, cniConfigPath: x}\n", file: "f.yaml").issues
        #expect(Set(both.map(\.rule)) == [.required, .cniConfigPath])
    }

    @Test("booleans are true or false only", arguments: ["yes", "no", "on", "off", "y"])
    func strictBooleans(_ word: String) {
        let yaml = realmSpace.replacingOccurrences(of: "NAME", with: "a") + "  defaults:\n    container:\n      readOnlyRootFilesystem: \(word)\n"
        #expect(ManifestDecoder.decode(yaml, file: "f.yaml").issues.map(\.rule) == [.fieldType])
    }

    @Test("the same resource declared twice is an error at the second declaration")
    func duplicates() {
        let first = ManifestDecoder.decode(space(name: "a"), file: "one.yaml").resources
        let second = ManifestDecoder.decode("# again\n" + space(name: "a"), file: "two.yaml").resources
        let issues = BatchValidator.duplicates(in: first + second)
        #expect(issues.count == 1)
        #expect(issues.first?.rule == .duplicate)
        #expect(issues.first?.position == SourcePosition(file: "two.yaml", line: 5, column: 9))
        #expect(issues.first?.message.contains("first at one.yaml:4:9") == true)
    }

    @Test("an upstream manifest with every field parses and keeps what kuke does not act on")
    func upstreamFields() throws {
        let yaml = """
            apiVersion: v1beta1
            kind: Space
            metadata:
              name: blog
              labels: {team: web, tier: "1"}
              generation: 4
            spec:
              realmId: main
              cniConfigPath: /etc/cni/net.d/
              network:
                egress:
                  default: deny
                  allow:
                  - host: api.example.com
                    ports: [443]
                  - cidr: 10.0.0.0/8
              defaults:
                container:
                  user: "1000:1000"
                  readOnlyRootFilesystem: true
                  capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
                  securityOpts: [no-new-privileges]
                  tmpfs: [{path: /tmp, sizeBytes: 1048576, options: [noexec]}]
                  resources: {memoryLimitBytes: 536870912, cpuShares: 512, pidsLimit: 100}
            status:
              state: Ready
              anything: goes
            ---
            apiVersion: v1beta1
            kind: Realm
            metadata: {name: main}
            spec:
              namespace: main.kukeon.io
              registryCredentials:
              - {username: u, password: p, serverAddress: registry.example.com}
            """
        let (resources, issues) = ManifestDecoder.decode(yaml, file: "all.yaml")
        #expect(issues.isEmpty, "\(issues)")
        guard case .space(let space)? = resources.first, case .realm(let realm)? = resources.last else {
            Issue.record("expected a space and a realm")
            return
        }
        #expect(space.metadata.labels == ["team": "web", "tier": "1"])
        #expect(space.spec.cniConfigPath == "/etc/cni/net.d")
        #expect(space.spec.network?["egress"]?["default"] == .string("deny"))
        #expect(space.spec.defaults?["container"]?["resources"]?["pidsLimit"] == .integer(100))
        #expect(realm.spec.namespace == "main.kukeon.io")

        // The stored record round-trips every field.
        let record = SpaceRecord(metadata: space.metadata, spec: space.spec, status: SpaceStatus(state: .ready))
        let text = RecordCodec.recordText(RecordCodec.value(of: record))
        let decoded = try RecordCodec.decodeSpace(text, file: "space.yaml")
        #expect(decoded.spec == space.spec)
        #expect(decoded.metadata == space.metadata)
    }

    @Test("BOM and CRLF line endings parse like the plain file")
    func bomAndCRLF() {
        let plain = space(name: "blog")
        let twisted = "\u{FEFF}" + plain.replacingOccurrences(of: "\n", with: "\r\n")
        let a = ManifestDecoder.decode(plain, file: "a.yaml")
        let b = ManifestDecoder.decode(twisted, file: "b.yaml")
        #expect(b.issues.isEmpty, "\(b.issues)")
        guard case .space(let x)? = a.resources.first, case .space(let y)? = b.resources.first else {
            Issue.record("both should parse")
            return
        }
        #expect(x.metadata == y.metadata && x.spec == y.spec)
    }

    @Test("empty documents are skipped")
    func emptyDocuments() {
        let (resources, issues) = ManifestDecoder.decode("---\n# nothing\n---\n" + space(name: "a") + "---\n", file: "f.yaml")
        #expect(issues.isEmpty)
        #expect(resources.count == 1)
    }

    @Test("labels that look like numbers stay strings through a record")
    func quotedLabels() throws {
        let record = SpaceRecord(
            metadata: ObjectMeta(name: "a", labels: ["n": "123", "b": "true", "e": ""], generation: 1),
            spec: SpaceSpec(realmId: "m"), status: SpaceStatus(state: .pending))
        let decoded = try RecordCodec.decodeSpace(RecordCodec.recordText(RecordCodec.value(of: record)), file: "x")
        #expect(decoded.metadata.labels == ["n": "123", "b": "true", "e": ""])
    }
}

@Suite("Egress policy model")
struct EgressPolicyModelTests {
    func network(_ yaml: String) -> ManifestValue? {
        let text =
            "apiVersion: v1beta1\nkind: Space\nmetadata: {name: s}\nspec:\n  realmId: r\n  network:\n    egress:\n"
            + yaml.split(separator: "\n").map { "      \($0)\n" }.joined()
        guard case .space(let space)? = ManifestDecoder.decode(text, file: "s.yaml").resources.first else { return nil }
        return space.spec.network
    }

    @Test("deny: CIDR host bits cleared, ports sorted without duplicates, hosts lower-cased and listed once")
    func deny() throws {
        let policy = try #require(
            EgressPolicy(
                network: network(
                    "default: deny\nallow:\n  - cidr: 10.1.2.3/8\n    ports: [443, 80, 443]\n  - host: API.example.com\n  - host: api.example.com\n    ports: [22]"
                )))
        #expect(policy.rules[0] == .init(target: .cidr(IPv4Address("10.0.0.0")!, prefix: 8), ports: [80, 443]))
        #expect(policy.rules[1].target == .host("api.example.com"))
        #expect(policy.hosts == ["api.example.com"])
    }

    @Test("no egress, no default, or default allow: open")
    func open() {
        #expect(EgressPolicy(network: nil) == nil)
        #expect(EgressPolicy(network: network("allow:\n  - cidr: 10.0.0.0/8")) == nil)
        #expect(EgressPolicy(network: network("default: allow\nallow:\n  - cidr: 10.0.0.0/8")) == nil)
    }

    @Test("resolved addresses round-trip through the record")
    func recordRoundTrip() throws {
        var status = SpaceStatus(state: .ready)
        status.egress = EgressStatus(resolved: [
            .init(host: "api.example.com", addresses: [IPv4Address("192.0.2.20")!, IPv4Address("192.0.2.10")!]),
            .init(host: "down.example.com", addresses: []),
        ])
        let record = SpaceRecord(metadata: ObjectMeta(name: "s"), spec: SpaceSpec(realmId: "r"), status: status)
        let text = RecordCodec.recordText(RecordCodec.value(of: record))
        let decoded = try RecordCodec.decodeSpace(text, file: "space.yaml")
        #expect(decoded.status.egress == status.egress)
        #expect(decoded.status.egress?.addresses(of: "api.example.com").map(\.description) == ["192.0.2.10", "192.0.2.20"])
    }
}

@Suite("YAML prescan")
struct YAMLPrescanTests {
    @Test("keys must be scalars: a sequence, a mapping or an alias as a key is refused at its position")
    func keys() {
        #expect(
            YAMLPrescan.check("a: 1\n? [x]\n: 2\n") == .init(line: 2, column: 3, message: "a mapping key must be a plain string; found a sequence"))
        #expect(YAMLPrescan.check("{? {a: b} : c}\n")?.message == "a mapping key must be a plain string; found a mapping")
        #expect(YAMLPrescan.check("x: &k key\n*k : v\n")?.message == "a mapping key must be a plain string; found an alias")
        #expect(YAMLPrescan.check("a: [x, {b: c}]\nd: {e: [f]}\n") == nil, "collections as values are fine")
    }

    @Test("aliases may be used until the document would expand past the budget; the count restarts per document")
    func budget() {
        #expect(YAMLPrescan.check("a: &a [1, 2, 3]\nb: *a\nc: *a\n") == nil)
        var rows = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
        for level in 1...5 { rows.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]") }
        let bomb = rows.joined(separator: "\n") + "\n"
        #expect(YAMLPrescan.check(bomb)?.line == 5, "a4 alone expands to 111,111 nodes")
        let small = rows.prefix(4).joined(separator: "\n") + "\n"
        #expect(YAMLPrescan.check(small) == nil, "a0 to a3 expand to 12,344 nodes in all")
        #expect(YAMLPrescan.check(small + "---\n" + small) == nil, "each document has its own budget")
    }
}

@Suite("Record errors")
struct RecordErrorTests {
    @Test("a record that breaks the schema says where, as a position, not only in text")
    func positions() throws {
        let text = "apiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec: {realmId: main}\nstatus:\n  state: Bogus\n"
        do {
            _ = try RecordCodec.decodeSpace(text, file: "space.yaml")
            Issue.record("a bad state was accepted")
        } catch {
            let problem = try #require(error.problems.first)
            #expect(problem.position == SourcePosition(file: "space.yaml", line: 6, column: 10), "\(error)")
            #expect(problem.message.contains("status.state") && problem.message.hasSuffix("[field-value]"), "\(error)")
            #expect(error.description.hasPrefix("space.yaml: unreadable record: space.yaml:6:10: "))
        }
    }
}

@Suite("Kinds: did you mean")
struct KindSuggestionTests {
    @Test(
        "a kind that is a typo of Realm or Space names it; another kind does not",
        arguments: [("space", "Space"), ("Spcae", "Space"), ("Realms", "Realm"), ("realm", "Realm"), ("Stack", nil), ("Cell", nil)])
    func kinds(_ kind: String, _ meant: String?) {
        let decoded = ManifestDecoder.decode("kind: \(kind)\nmetadata: {name: a}\n", file: "x.yaml")
        let message = decoded.issues.first?.message ?? ""
        #expect(message.hasPrefix("kind \"\(kind)\" is not reconciled by kuke"), "\(decoded.issues)")
        #expect(message.hasSuffix(meant.map { "(did you mean \"\($0)\"?)" } ?? "manages Realm and Space"), "\(message)")
    }
}
