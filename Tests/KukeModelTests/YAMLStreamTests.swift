import Testing

@testable import KukeModel

/// The one pass over libyaml's events that every YAML file goes through: composition's rules
/// (aliases, duplicate keys, one document where one is expected) and how nodes read.
@Suite("YAML stream")
struct YAMLStreamTests {
    /// The value of `text`'s first document under `schema`, nil with any problem.
    func walk(_ text: String, _ schema: FieldSchema) -> ManifestValue? {
        let yaml = YAMLStream(text)
        guard let root = yaml.roots.first.map(yaml.resolved) else { return nil }
        var walker = SchemaWalker(file: "t.yaml", yaml: yaml)
        let value = walker.walk(root, schema, path: "")
        return walker.issues.isEmpty ? value : nil
    }

    @Test("a key is a string whatever its text reads as elsewhere; the same text as a value is typed")
    func keysAreStrings() {
        let yaml = YAMLStream("true: yes\n12: null\n!!int 7: x\n")
        let pairs = yaml.roots.first.map(yaml.pairs) ?? []
        #expect(pairs.map { yaml.tag($0.key) } == [.str, .str, .int])
        #expect(pairs.map { yaml.tag($0.value) } == [.bool, .null, .str])
        #expect(
            walk("labels:\n  true: 'on'\n", .object(["labels": .stringMap]))
                == .map([.init("labels", .map([.init("true", .string("on"))]))]))
    }

    @Test("an alias reads as the node its anchor names, in the same document or an earlier one")
    func aliases() {
        let schema = FieldSchema.object(["a": .string, "b": .string, "c": .list(.string)])
        #expect(
            walk("a: &x web\nb: *x\nc: [*x]\n", schema)
                == .map([.init("a", .string("web")), .init("b", .string("web")), .init("c", .list([.string("web")]))]))
        let yaml = YAMLStream("a: &x [1, 2]\n---\n*x\n")
        #expect(yaml.failure == nil && yaml.roots.count == 2)
        #expect(yaml.items(yaml.resolved(yaml.roots[1])).map { yaml.events[$0].text } == ["1", "2"])
        // An alias inside its own anchor's node names nothing yet.
        #expect(YAMLStream("a: &x [*x]\n").failure == .init(line: 1, column: 8, message: "YAML syntax error: found undefined alias"))
        #expect(YAMLStream("a: 1\nb: *missing\n").failure == .init(line: 2, column: 4, message: "YAML syntax error: found undefined alias"))
    }

    @Test("duplicate keys: every key written twice, sorted, at the first occurrence of the first; a quoted key is the same key")
    func duplicates() {
        #expect(YAMLStream("b: 1\na: 2\nb: 3\na: 4\n").failure == .init(line: 2, column: 1, message: "duplicate key \"a\", \"b\" in one mapping"))
        #expect(YAMLStream("'kind': Space\nkind: Realm\n").failure?.message == "duplicate key \"kind\" in one mapping")
        #expect(YAMLStream("1: a\n!!int 1: b\n").failure == nil, "differently tagged keys differ")
        let many = (0..<40).map { "k\($0): v" }.joined(separator: "\n") + "\nk7: again\n"
        #expect(YAMLStream(many).failure == .init(line: 8, column: 1, message: "duplicate key \"k7\" in one mapping"))
    }

    @Test("documents before a syntax error are read; a limit anywhere before it refuses the whole file")
    func stopping() {
        let broken = YAMLStream("a: 1\n---\nb: 2\n---\nc: [\n")
        #expect(broken.roots.count == 2)
        #expect(broken.failure?.message.hasPrefix("YAML syntax error: ") == true)
        #expect(broken.failure?.isLimit == false)
        let limited = YAMLStream("a: 1\n---\n? [x]\n: 2\n---\nc: [\n")
        #expect(limited.roots.isEmpty)
        #expect(limited.failure == .init(line: 3, column: 3, message: "a mapping key must be a plain string; found a sequence", isLimit: true))
    }

    @Test("a file that holds one document: a second is refused at its start, an empty stream has none")
    func singleRoot() {
        #expect(
            YAMLStream("a: 1\n---\nb: 2\n").singleRoot()
                == .failure(
                    .init(
                        line: 2, column: 1,
                        message: "YAML syntax error: but found another document (expected a single document in the stream at line 1)")))
        #expect(YAMLStream("# nothing\n").singleRoot() == .success(nil))
        #expect(YAMLStream("a: 1\n").singleRoot() == .success(0))
    }

    @Test("a byte order mark opening a scalar is not part of its text (UTF-8 decoding drops it, as Yams did); elsewhere it is")
    func byteOrderMark() {
        let yaml = YAMLStream("kind: \"\u{FEFF}x\"\nname: \"a\u{FEFF}\"\n")
        #expect(
            yaml.roots.first.map(yaml.pairs)?.flatMap { [yaml.events[$0.key].text, yaml.events[$0.value].text] } == [
                "kind", "x", "name", "a\u{FEFF}",
            ])
    }

    @Test("the emitter writes block style, quotes what would read back as another type, and reads back unchanged")
    func emitter() {
        let strings = [
            "", "12", "yes", "null", "~", "1.5", "0x1F", "1:30", "a: b", "- x", "#c", "two\nlines", "é ü", "  lead", "trail ", "'q'", "\"d\"", "[x]",
            "*a", "&a", "!t", "%p", "@a", "`b", "v1beta1",
        ]
        let value = ManifestValue.map(strings.enumerated().map { .init("k\($0.offset)", .string($0.element)) })
        let text = YAMLEmitter.document(value)
        #expect(walk(text, .stringMap) == value)
        #expect(
            YAMLEmitter.document(
                .map([.init("a", .list([.integer(1), .boolean(true), .string("12")])), .init("b", .map([.init("c", .string("d"))]))]))
                == "a:\n- 1\n- true\n- \"12\"\nb:\n  c: d\n")
    }
}
