import CYaml

/// One pass over libyaml's events before Yams builds a document tree, refusing what would
/// make building or comparing that tree explode: Yams hashes every mapping key to find
/// duplicates, and an alias shares its anchor's subtree, so a key that is a collection or an
/// alias, or aliases of aliases (a "billion laughs"), cost time exponential in the input.
/// Mapping keys must be scalars, and a document may expand to at most `nodeBudget` nodes.
/// Syntax errors are left for the parser that follows, which reports them with positions.
enum YAMLPrescan {
    static let nodeBudget = SchemaWalker.nodeBudget

    struct Violation: Equatable {
        var line: Int
        var column: Int
        var message: String
    }

    /// An open sequence or mapping.
    struct Frame {
        var isMapping: Bool
        /// For a mapping: the next node is a key.
        var expectingKey = true
        /// The document's expanded node count when the collection started.
        var start: Int
        var anchor: String?
    }

    static func check(_ text: String) -> Violation? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var frames: [Frame] = []
            var anchors: [String: Int] = [:]
            var total = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                let mark = event.start_mark
                func violation(_ message: String) -> Violation {
                    Violation(line: Int(mark.line) + 1, column: Int(mark.column) + 1, message: message)
                }
                /// A node is complete: its mapping, if it is in one, moves from key to value or back.
                func completed() {
                    if !frames.isEmpty && frames[frames.count - 1].isMapping { frames[frames.count - 1].expectingKey.toggle() }
                }
                func add(_ size: Int) -> Violation? {
                    total = total > nodeBudget ? total : total &+ min(size, nodeBudget + 1)
                    if total > nodeBudget {
                        return violation("the document expands to more than \(nodeBudget) YAML nodes (aliases of aliases?)")
                    }
                    return nil
                }
                func keyCheck(_ what: String) -> Violation? {
                    guard let top = frames.last, top.isMapping, top.expectingKey else { return nil }
                    return violation("a mapping key must be a plain string; found \(what)")
                }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_DOCUMENT_START_EVENT:
                    total = 0
                    anchors = [:]
                    frames = []
                case YAML_SCALAR_EVENT:
                    if let problem = add(1) { return problem }
                    if let anchor = event.data.scalar.anchor { anchors[String(cString: anchor)] = 1 }
                    completed()
                case YAML_ALIAS_EVENT:
                    if let problem = keyCheck("an alias") { return problem }
                    let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
                    if let problem = add(anchors[name] ?? 1) { return problem }
                    completed()
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    let isMapping = event.type == YAML_MAPPING_START_EVENT
                    if let problem = keyCheck(isMapping ? "a mapping" : "a sequence") { return problem }
                    let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
                    let start = total
                    if let problem = add(1) { return problem }
                    frames.append(Frame(isMapping: isMapping, start: start, anchor: anchor.map { String(cString: $0) }))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let frame = frames.popLast() else { return nil }
                    if let anchor = frame.anchor { anchors[anchor] = total - frame.start }
                    completed()
                default:
                    break
                }
            }
        }
    }
}
