/// Walks a YAML node (an index into a `YAMLStream`) against a `FieldSchema`, producing a
/// `ManifestValue` and collecting every issue with the field's path and position.
struct SchemaWalker {
    let file: String
    let yaml: YAMLStream
    var issues: [ManifestIssue] = []
    /// Positions of every field visited, by dotted path (`spec.realmId`).
    var positions: [String: SourcePosition] = [:]
    /// The entries of every string map visited (labels), by the map's path, with the positions
    /// of each key and value: rules on the entries are checked by the caller, which knows
    /// whether it reads a manifest (checked) or a record (read as written).
    var mapEntries: [String: [MapEntry]] = [:]

    /// One entry of a string map and where its key and value were written.
    struct MapEntry {
        var key: String
        var keyPosition: SourcePosition
        var value: String
        var valuePosition: SourcePosition
    }

    init(file: String, yaml: YAMLStream) {
        self.file = file
        self.yaml = yaml
    }

    func position(of node: Int) -> SourcePosition {
        let event = yaml.events[node]
        return SourcePosition(file: file, line: Int(event.line), column: Int(event.column))
    }

    mutating func fail(_ node: Int, _ rule: ManifestRule, _ message: String) {
        issues.append(ManifestIssue(position(of: node), rule, message))
    }

    /// The value of `node` under `schema`, or nil (with an issue) when it does not fit.
    /// A YAML null (`key:` or `key: null`) is treated as absent and also yields nil. Documents
    /// reach the walk through `YAMLPrescan`, which bounds their expanded size.
    mutating func walk(_ node: Int, _ schema: FieldSchema, path: String) -> ManifestValue? {
        positions[path] = position(of: node)
        if case .ignored = schema { return nil }
        if isNull(node) { return nil }
        switch schema {
        case .string:
            return scalarString(node, path: path).map(ManifestValue.string)
        case .oneOf(let allowed):
            guard let text = scalarString(node, path: path) else { return nil }
            guard allowed.contains(text) else {
                fail(node, .fieldValue, "\(path): \"\(text)\" is not one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", "))")
                return nil
            }
            return .string(text)
        case .integer(let range):
            guard isScalar(node), tag(node) == .int, let number = PlainScalar.integer(text(node)) else {
                fail(node, .fieldType, "\(path): expected an integer, found \(describe(node))")
                return nil
            }
            guard range.contains(number) else {
                fail(node, .fieldValue, "\(path): \(number) is out of range \(range.lowerBound)...\(range.upperBound)")
                return nil
            }
            return .integer(number)
        case .quantity:
            guard isScalar(node), ![YAMLTag.bool, .null].contains(tag(node)) else {
                fail(node, .fieldType, "\(path): expected a quantity (like 512Mi, 1.5 or max), found \(describe(node))")
                return nil
            }
            if tag(node) == .int, let number = PlainScalar.integer(text(node)) { return .integer(number) }
            return .string(text(node))
        case .port:
            guard isScalar(node), ![YAMLTag.bool, .float, .null].contains(tag(node)) else {
                fail(node, .fieldType, "\(path): expected a port (like 443, \"53/udp\", \"8000-8100/tcp\" or \"icmp\"), found \(describe(node))")
                return nil
            }
            if tag(node) == .int, let number = PlainScalar.integer(text(node)) { return .integer(number) }
            return .string(text(node))
        case .boolean:
            // Only true and false: YAML 1.1's yes/no/on/off are refused, as they are for strings.
            let strict = ["true", "True", "TRUE", "false", "False", "FALSE"]
            guard isScalar(node), tag(node) == .bool, strict.contains(text(node)), let flag = PlainScalar.bool(text(node)) else {
                fail(node, .fieldType, "\(path): expected a boolean (true or false), found \(describe(node))")
                return nil
            }
            return .boolean(flag)
        case .list(let element):
            guard yaml.events[node].kind == .sequence else {
                fail(node, .fieldType, "\(path): expected a list, found \(describe(node))")
                return nil
            }
            var values: [ManifestValue] = []
            for (index, item) in yaml.items(node).enumerated() {
                if let value = walk(item, element, path: "\(path)[\(index)]") { values.append(value) }
            }
            return .list(values)
        case .stringMap:
            guard yaml.events[node].kind == .mapping else {
                fail(node, .fieldType, "\(path): expected a mapping of strings, found \(describe(node))")
                return nil
            }
            var entries: [ManifestValue.Entry] = []
            for (key, value) in yaml.pairs(node) {
                guard let name = scalarString(key, path: "\(path) key") else { continue }
                let childPath = "\(path).\(name)"
                let text = isNull(value) ? "" : scalarString(value, path: childPath)
                if let text {
                    entries.append(.init(name, .string(text)))
                    mapEntries[path, default: []].append(
                        MapEntry(key: name, keyPosition: position(of: key), value: text, valuePosition: position(of: value)))
                }
            }
            return .map(entries)
        case .object(let fields):
            guard yaml.events[node].kind == .mapping else {
                fail(node, .fieldType, "\(path.isEmpty ? "document" : path): expected a mapping, found \(describe(node))")
                return nil
            }
            var entries: [ManifestValue.Entry] = []
            for (key, value) in yaml.pairs(node) {
                guard let name = scalarString(key, path: path.isEmpty ? "key" : "\(path) key") else { continue }
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                guard let childSchema = fields[name] else {
                    fail(key, .unknownField, "unknown field \"\(childPath)\"\(suggestion(for: name, among: fields.keys))")
                    continue
                }
                if let child = walk(value, childSchema, path: childPath) { entries.append(.init(name, child)) }
            }
            return .map(entries)
        case .ignored:
            return nil
        }
    }

    func isNull(_ node: Int) -> Bool {
        isScalar(node) && tag(node) == .null
    }

    func isScalar(_ node: Int) -> Bool { yaml.events[node].kind == .scalar }

    /// A scalar's text.
    func text(_ node: Int) -> String { yaml.events[node].text }

    func tag(_ node: Int) -> YAMLTag { yaml.tag(node) }

    /// A string scalar; a plain scalar YAML reads as a number, boolean or null is a type error
    /// (quote it), so `name: 0123` or `realmId: yes` never changes meaning silently.
    mutating func scalarString(_ node: Int, path: String) -> String? {
        guard isScalar(node) else {
            fail(node, .fieldType, "\(path): expected a string, found \(describe(node))")
            return nil
        }
        guard ![YAMLTag.int, .float, .bool, .null].contains(tag(node)) else {
            fail(node, .fieldType, "\(path): expected a string, found \(describe(node)); quote it if a string is meant")
            return nil
        }
        return text(node)
    }

    func describe(_ node: Int) -> String {
        switch yaml.events[node].kind {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return describe(yaml.resolved(node))
        case .scalar:
            let string = text(node)
            let shown = string.count > 40 ? String(string.prefix(40)) + "…" : string
            switch tag(node) {
            case .int: return "the integer \(shown)"
            case .float: return "the number \(shown)"
            case .bool: return "the boolean \(shown)"
            case .null: return "null"
            default: return "the string \"\(shown)\""
            }
        }
    }

    /// ` (did you mean "x"?)` when a known field is one or two edits away.
    func suggestion(for name: String, among known: Dictionary<String, FieldSchema>.Keys) -> String {
        let lowered = name.lowercased()
        let best = known.map { ($0, editDistance(lowered, $0.lowercased())) }.min { ($0.1, $0.0) < ($1.1, $1.0) }
        guard let best, best.1 <= 2 else { return "" }
        return " (did you mean \"\(best.0)\"?)"
    }
}

/// Levenshtein distance, for typo suggestions on short field names (and command names).
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8)
    let b = Array(b.utf8)
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
