import Testing

@testable import KukeModel

/// Kubernetes' label rules (apimachinery's `IsQualifiedName` and `IsValidLabelValue`), in
/// `Label` and in manifests, where each bad key or value is reported where it was written.
@Suite("Labels")
struct LabelTests {
    static let name63 = String(repeating: "a", count: 63)
    static let prefix253 = String(Array(repeating: String(repeating: "p", count: 63), count: 4).joined(separator: ".").dropLast(3)) + "x"

    @Test(
        "valid keys",
        arguments: [
            "a", "Z", "0", "team", "MyName", "my.name", "123-abc", "a_b", "a-b.c_D", name63, "example.com/MyName",
            "app.kubernetes.io/name", "k8s.io/a", "a/b", "a-1.b-2/c", "\(prefix253)/name",
        ])
    func validKey(_ key: String) {
        #expect(Label.violation(ofKey: key) == nil, "\(key)")
    }

    @Test(
        "invalid keys, with the rule broken",
        arguments: [
            ("", "name part must be non-empty"),
            ("Bad Key", "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
            ("-a", "name part must consist of"),
            ("a-", "name part must consist of"),
            ("_a", "name part must consist of"),
            (".a", "name part must consist of"),
            ("a.", "name part must consist of"),
            ("a:b", "name part must consist of"),
            ("a=b", "name part must consist of"),
            ("é", "name part must consist of"),
            ("a\u{0}b", "name part must consist of"),
            (name63 + "a", "name part must be no more than 63 characters (it has 64)"),
            ("/a", "prefix part must be non-empty"),
            ("a/", "name part must be non-empty"),
            ("a/b/c", "one '/'"),
            ("Example.com/a", "prefix part must be a lowercase RFC 1123 subdomain"),
            ("example_com/a", "prefix part must be a lowercase RFC 1123 subdomain"),
            ("-example.com/a", "prefix part must be a lowercase RFC 1123 subdomain"),
            ("example.com-/a", "prefix part must be a lowercase RFC 1123 subdomain"),
            ("a..b/c", "prefix part must be a lowercase RFC 1123 subdomain"),
            ("a.-b/c", "prefix part must be a lowercase RFC 1123 subdomain"),
            (".a/c", "prefix part must be a lowercase RFC 1123 subdomain"),
            ("\(prefix253)x/name", "prefix part must be no more than 253 characters (it has 254)"),
            ("example.com/Bad Key", "name part must consist of"),
        ])
    func invalidKey(_ key: String, _ expected: String) {
        let violation = Label.violation(ofKey: key)
        #expect(violation?.contains(expected) == true, "\(key): \(violation ?? "accepted")")
    }

    @Test("valid values", arguments: ["", "a", "v1", "V1.2.3", "a_b-c.d", "2024-01-01", name63])
    func validValue(_ value: String) {
        #expect(Label.violation(ofValue: value) == nil, "\(value)")
    }

    @Test(
        "invalid values, with the rule broken",
        arguments: [
            ("v a l", "must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
            ("-a", "must be empty or consist of"),
            ("a.", "must be empty or consist of"),
            ("a/b", "must be empty or consist of"),
            ("a\nb", "must be empty or consist of"),
            ("ü", "must be empty or consist of"),
            (name63 + "b", "must be no more than 63 characters (it has 64)"),
        ])
    func invalidValue(_ value: String, _ expected: String) {
        let violation = Label.violation(ofValue: value)
        #expect(violation?.contains(expected) == true, "\(value): \(violation ?? "accepted")")
    }

    @Test("a problem names the label and escapes control characters")
    func problems() {
        #expect(
            Label.problems(key: "Bad Key", value: "v a l") == [
                "label key \"Bad Key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                "label value \"v a l\" of key \"Bad Key\": must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            ])
        #expect(Label.problems(key: "a\u{1}", value: "").first?.hasPrefix("label key \"a\\u{1}\"") == true)
        #expect(Label.problems(key: "team", value: "web").isEmpty)
    }

    @Test("a manifest's bad label keys and values are each reported at their own line and column, with the rule")
    func manifestPositions() {
        let yaml = """
            apiVersion: v1beta1
            kind: Space
            metadata:
              name: lab
              labels:
                team: web
                Bad Key: v a l
                example.com/ok: ""
                tier: -front
            spec: {realmId: main}

            """
        let (resources, issues) = ManifestDecoder.decode(yaml, file: "lab.yaml")
        #expect(resources.isEmpty)
        #expect(issues.map(\.rule) == [.label, .label, .label])
        #expect(issues.map(\.position.description) == ["lab.yaml:7:5", "lab.yaml:7:14", "lab.yaml:9:11"])
        #expect(
            issues.first?.description
                == "lab.yaml:7:5: label key \"Bad Key\": name part must consist of alphanumeric characters, '-', '_' or '.', "
                + "and must start and end with an alphanumeric character [label]")
        #expect(issues[2].message.hasPrefix("label value \"-front\" of key \"tier\""))
    }

    @Test("a Realm's labels are checked too; an empty or null value is valid")
    func realmLabels() {
        let good = ManifestDecoder.decode("kind: Realm\nmetadata: {name: main, labels: {a: '', b: , c: null}}\n", file: "r.yaml")
        #expect(good.issues.isEmpty, "\(good.issues)")
        let bad = ManifestDecoder.decode("kind: Realm\nmetadata:\n  name: main\n  labels: {\"a/b/c\": x}\n", file: "r.yaml")
        #expect(
            bad.issues.map(\.description) == [
                "r.yaml:4:12: label key \"a/b/c\": must be a name with an optional DNS subdomain prefix and one '/' (e.g. 'example.com/MyName'); found 2 '/' [label]"
            ])
    }

    @Test("a record on disk with a bad label is still read, as written")
    func recordsReadAsWritten() throws {
        let record = SpaceRecord(
            metadata: ObjectMeta(name: "lab", labels: ["Bad Key": "v a l"], generation: 1), spec: SpaceSpec(realmId: "main"),
            status: SpaceStatus(state: .ready))
        let text = RecordCodec.recordText(RecordCodec.value(of: record))
        let read = try RecordCodec.decodeSpace(text, file: "space.yaml")
        #expect(read.metadata.labels == ["Bad Key": "v a l"])
    }
}
