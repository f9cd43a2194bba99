import CYAML

/// A YAML text as the system libyaml reads it, in one pass over its events: each node kept as
/// one flat event (no tree of node objects), aliases pointing at the node they name, and the
/// checks that decide whether the text may be read at all made on the way:
/// - `YAMLPrescan`'s limits (scalar keys, the expansion budget, the document count);
/// - YAML composition's rules: an alias names an anchor defined before it, and no mapping holds
///   the same key twice.
///
/// The first problem stops the reading; the documents completed before it stay readable, in
/// the order a composer would have handed them out. `SchemaWalker` reads nodes by index.
struct YAMLStream {
    /// One node: a scalar, a collection (its children follow it), or an alias.
    struct Event {
        enum Kind: UInt8 { case scalar, sequence, mapping, alias }
        var kind: Kind
        /// Set when the node is a key of a mapping that was completed: YAML composition reads
        /// every key untagged as a string (`true:` is the key "true").
        var isKey = false
        /// Whether a scalar was written plain (no quotes, not a block scalar).
        var isPlain = false
        /// 1-based, where the node starts.
        var line: Int32
        var column: Int32
        /// A collection: the index past its last child. An alias: the node it names.
        var link = 0
        /// A scalar's text.
        var text = ""
        /// A node's explicit tag as libyaml resolved it (`tag:yaml.org,2002:str` for `!!str`),
        /// `tag:yaml.org,2002:str` for a quoted scalar, nil when untagged.
        var tag: String?
    }

    /// A problem that stops the reading, with the message users see.
    struct Failure: Error, Equatable {
        var line: Int
        var column: Int
        var message: String
        /// A prescan limit (`document-shape`) rather than a syntax error.
        var isLimit = false
    }

    static let stringTag = "tag:yaml.org,2002:str"

    private(set) var events: [Event] = []
    /// The root node of every document completed before `failure`, in order.
    private(set) var roots: [Int] = []
    /// Where each document that started begins (its `---`, or its first node).
    private(set) var documentStarts: [(line: Int, column: Int)] = []
    /// The first problem met, if any. A limit is found wherever it is before a libyaml error,
    /// and then it is the only problem (no document is read).
    private(set) var failure: Failure?

    init(_ text: String) {
        var bytes = text
        bytes.withUTF8 { read($0, text: text) }
        if let failure, failure.isLimit { roots = [] }
    }

    /// The node `index` stands for: the named node for an alias, else itself.
    func resolved(_ index: Int) -> Int {
        events[index].kind == .alias ? events[index].link : index
    }

    /// The index of the node after `index` and its children.
    func next(_ index: Int) -> Int {
        switch events[index].kind {
        case .sequence, .mapping: return events[index].link
        case .scalar, .alias: return index + 1
        }
    }

    /// The tag the node resolves to: explicit, a string for a quoted scalar or a key, or what
    /// a plain scalar's text reads as.
    func tag(_ index: Int) -> YAMLTag {
        let event = events[index]
        switch event.kind {
        case .mapping: return .map
        case .sequence: return .seq
        case .alias: return tag(event.link)
        case .scalar:
            if let explicit = event.tag, !explicit.isEmpty, explicit != "!" { return YAMLTag(explicit) }
            if event.isKey || !event.isPlain { return .str }
            return PlainScalar.tag(of: event.text)
        }
    }

    /// Whether the node is a scalar that reads as null (`~`, `null`, nothing).
    func isNullScalar(_ index: Int) -> Bool {
        events[index].kind == .scalar && tag(index) == .null
    }

    /// The (key, value) node pairs of a mapping, in written order; values are resolved.
    func pairs(_ mapping: Int) -> [(key: Int, value: Int)] {
        var result: [(key: Int, value: Int)] = []
        var index = mapping + 1
        let end = events[mapping].link
        while index < end {
            let value = next(index)
            result.append((index, resolved(value)))
            index = next(value)
        }
        return result
    }

    /// The items of a sequence, resolved.
    func items(_ sequence: Int) -> [Int] {
        var result: [Int] = []
        var index = sequence + 1
        let end = events[sequence].link
        while index < end {
            result.append(resolved(index))
            index = next(index)
        }
        return result
    }

    /// The value under the string key `key` of a mapping (the last one, as a composer's lookup).
    func value(in mapping: Int, forKey key: String) -> Int? {
        var found: Int?
        for pair in pairs(mapping) where events[pair.key].kind == .scalar && events[pair.key].text == key && keyTag(pair.key) == Self.stringTag {
            found = pair.value
        }
        return found
    }

    /// The tag a key is compared by: explicit, else a string.
    func keyTag(_ index: Int) -> String {
        guard let explicit = events[index].tag, !explicit.isEmpty, explicit != "!" else { return Self.stringTag }
        return explicit
    }

    /// The only document of a file that must hold one (a record, the host configuration): its
    /// root, nil for an empty stream, or the failure.
    func singleRoot() -> Result<Int?, Failure> {
        if let failure, failure.isLimit || roots.isEmpty { return .failure(failure) }
        if documentStarts.count > 1 {
            let start = documentStarts[1]
            return .failure(
                Failure(
                    line: start.line, column: start.column,
                    message: "YAML syntax error: but found another document (expected a single document in the stream at line 1)"))
        }
        if let failure { return .failure(failure) }
        return .success(roots.first)
    }

    // MARK: Reading

    /// An open collection.
    private struct Open {
        var index: Int
        var anchor: String?
        /// A mapping's keys so far.
        var keys: [Int] = []
        var expectingKey: Bool
    }

    private mutating func read(_ buffer: UnsafeBufferPointer<UInt8>, text: String) {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            failure = Failure(line: 1, column: 1, message: "YAML error: Memory error")
            return
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        var prescan = YAMLPrescan.State()
        var open: [Open] = []
        // Anchors live for the whole stream, as in a composer: a later document may name one.
        var anchors: [String: Int] = [:]
        var root = 0
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                if failure == nil { failure = Self.libyamlFailure(parser, text: text) }
                return
            }
            defer { yaml_event_delete(&event) }
            if let refusal = Self.nestingRefusal(parser, event) {
                if failure == nil { failure = refusal }
                return
            }
            if let message = prescan.handle(&event) {
                failure = Failure(
                    line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1, message: message, isLimit: true)
                return
            }
            // After a composition error only the limits are still looked for.
            if failure != nil {
                if event.type == YAML_STREAM_END_EVENT { return }
                continue
            }
            let line = Int32(truncatingIfNeeded: event.start_mark.line + 1)
            let column = Int32(truncatingIfNeeded: event.start_mark.column + 1)
            var completed: Int?
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return
            case YAML_DOCUMENT_START_EVENT:
                documentStarts.append((Int(line), Int(column)))
                root = events.count
            case YAML_DOCUMENT_END_EVENT:
                roots.append(root)
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                var node = Event(kind: .scalar, line: line, column: column)
                var bytes = UnsafeBufferPointer(start: scalar.value, count: scalar.length)
                // A byte order mark opening a scalar is dropped, as UTF-8 decoding drops it.
                if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { bytes = UnsafeBufferPointer(rebasing: bytes[3...]) }
                node.text = String(decoding: bytes, as: UTF8.self)
                node.isPlain = scalar.style == YAML_PLAIN_SCALAR_STYLE
                node.tag = scalar.quoted_implicit == 1 ? Self.stringTag : scalar.tag.map { String(cString: $0) }
                completed = events.count
                events.append(node)
                if let anchor = scalar.anchor { anchors[String(cString: anchor)] = completed }
            case YAML_ALIAS_EVENT:
                let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
                guard let target = anchors[name] else {
                    failure = Failure(line: Int(line), column: Int(column), message: "YAML syntax error: found undefined alias")
                    continue
                }
                completed = events.count
                events.append(Event(kind: .alias, line: line, column: column, link: target))
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
                let tag = isMapping ? event.data.mapping_start.tag : event.data.sequence_start.tag
                open.append(Open(index: events.count, anchor: anchor.map { String(cString: $0) }, expectingKey: isMapping))
                events.append(Event(kind: isMapping ? .mapping : .sequence, line: line, column: column, tag: tag.map { String(cString: $0) }))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let collection = open.popLast() else { continue }
                events[collection.index].link = events.count
                if event.type == YAML_MAPPING_END_EVENT {
                    if let duplicate = duplicateKeys(collection.keys) {
                        failure = duplicate
                        continue
                    }
                    for key in collection.keys { events[key].isKey = true }
                }
                if let anchor = collection.anchor { anchors[anchor] = collection.index }
                completed = collection.index
            default:
                break
            }
            if let completed, let last = open.indices.last, events[open[last].index].kind == .mapping {
                if open[last].expectingKey { open[last].keys.append(completed) }
                open[last].expectingKey.toggle()
            }
        }
    }

    /// The duplicate-key failure for a mapping's keys: the keys written twice, in sorted order,
    /// at the first occurrence of the first of them.
    private func duplicateKeys(_ keys: [Int]) -> Failure? {
        guard keys.count > 1 else { return nil }
        var first: [String: [String: Int]] = [:]
        var counted: [Int: Int] = [:]
        if keys.count <= 16 {
            for (position, key) in keys.enumerated() {
                guard let earlier = keys[..<position].first(where: { sameKey($0, key) }) else { continue }
                counted[earlier, default: 1] += 1
            }
        } else {
            for key in keys {
                let (text, tag) = (events[key].text, keyTag(key))
                if let earlier = first[text]?[tag] {
                    counted[earlier, default: 1] += 1
                } else {
                    first[text, default: [:]][tag] = key
                }
            }
        }
        guard !counted.isEmpty else { return nil }
        let repeated = counted.keys.sorted { (events[$0].text, $0) < (events[$1].text, $1) }
        let key = events[repeated[0]]
        return Failure(
            line: Int(key.line), column: Int(key.column),
            message: "duplicate key \(repeated.map { "\"\(events[$0].text)\"" }.joined(separator: ", ")) in one mapping")
    }

    private func sameKey(_ a: Int, _ b: Int) -> Bool {
        events[a].text == events[b].text && keyTag(a) == keyTag(b)
    }

    /// Deepest nesting read: block indentation levels and flow levels together, as libyaml's
    /// later releases count them (`yaml_set_max_nest_level`, 1000 by default). Debian's 0.2.5
    /// has no such limit and scans deeply nested flow collections in time quadratic in their
    /// depth (its stale simple-key check walks every open level at every token), so the limit is
    /// kept here, with the same message and position.
    static let maximumNesting = 1000

    /// The refusal of a collection that opens one level too deep, checked as libyaml checks it
    /// when the collection starts: open indentation levels against the limit less the flow level.
    private static func nestingRefusal(_ parser: yaml_parser_t, _ event: yaml_event_t) -> Failure? {
        let isMapping = event.type == YAML_MAPPING_START_EVENT
        guard isMapping || event.type == YAML_SEQUENCE_START_EVENT else { return nil }
        let indents = parser.indents.top - parser.indents.start
        guard indents >= maximumNesting - Int(parser.flow_level) else { return nil }
        // The problem is where the collection's own token starts: the node's start unless an
        // anchor or tag comes first; `{` and `[` are one character before the event's end.
        let (anchor, tag, style) =
            isMapping
            ? (event.data.mapping_start.anchor, event.data.mapping_start.tag, event.data.mapping_start.style.rawValue)
            : (event.data.sequence_start.anchor, event.data.sequence_start.tag, event.data.sequence_start.style.rawValue)
        var mark = event.start_mark
        if anchor != nil || tag != nil {
            mark = event.end_mark
            let flow = isMapping ? style == YAML_FLOW_MAPPING_STYLE.rawValue : style == YAML_FLOW_SEQUENCE_STYLE.rawValue
            if flow { mark.column -= 1 }
        }
        return Failure(
            line: Int(mark.line) + 1, column: Int(mark.column) + 1,
            message:
                "YAML syntax error: Maximum nesting level reached, set with yaml_set_max_nest_level()) (while parsing at line \(event.start_mark.line + 1))"
        )
    }

    /// The message and position of libyaml's error.
    private static func libyamlFailure(_ parser: yaml_parser_t, text: String) -> Failure {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        switch parser.error {
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR, YAML_COMPOSER_ERROR:
            let context = parser.context.map { " (\(String(cString: $0)) at line \(parser.context_mark.line + 1))" } ?? ""
            return Failure(
                line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1,
                message: "YAML syntax error: \(problem)\(context)")
        case YAML_READER_ERROR:
            // The offset is counted in characters, as it was when Yams reported it.
            let offset = text.utf8.index(text.utf8.startIndex, offsetBy: parser.problem_offset, limitedBy: text.utf8.endIndex)?
                .samePosition(in: text).map { text.distance(from: text.startIndex, to: $0) }
            return Failure(line: 1, column: 1, message: "YAML reader error: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        default:
            return Failure(line: 1, column: 1, message: "YAML error: Memory error")
        }
    }
}

/// What a node is read as.
enum YAMLTag: Equatable {
    case str, int, float, bool, null, map, seq
    /// Any other explicit tag (`!!binary`, `!custom`).
    case other

    init(_ name: String) {
        switch name {
        case "tag:yaml.org,2002:str": self = .str
        case "tag:yaml.org,2002:int": self = .int
        case "tag:yaml.org,2002:float": self = .float
        case "tag:yaml.org,2002:bool": self = .bool
        case "tag:yaml.org,2002:null": self = .null
        case "tag:yaml.org,2002:map": self = .map
        case "tag:yaml.org,2002:seq": self = .seq
        default: self = .other
        }
    }
}
