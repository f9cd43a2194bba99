import CYAML

/// The limits `YAMLStream` checks on every libyaml event as it reads, refusing what would make
/// reading or comparing the document explode: mapping keys are compared to find duplicates,
/// and an alias stands for its anchor's whole subtree, so a key that is a collection or an
/// alias, or aliases of aliases (a "billion laughs"), cost time exponential in the input.
/// Mapping keys must be scalars, a document may expand to at most `nodeBudget` nodes, and a
/// file may hold at most `ManifestDecoder.maximumDocuments` documents. A limit passed anywhere
/// before a syntax error refuses the whole file.
enum YAMLPrescan {
    /// Most nodes one document may expand to, aliases counted at their full size.
    static let nodeBudget = 100_000

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

    /// What the pass knows so far.
    struct State {
        var frames: [Frame] = []
        var anchors: [String: Int] = [:]
        /// Expanded nodes of the current document, saturating just past the budget.
        var total = 0
        var documents = 0

        /// The message when counting `size` more nodes passes the budget.
        mutating func add(_ size: Int) -> String? {
            total = min(total + min(size, nodeBudget + 1), nodeBudget + 1)
            return total > nodeBudget ? "the document expands to more than \(nodeBudget) YAML nodes (aliases of aliases?)" : nil
        }

        /// The message when a node of kind `what` stands where a mapping expects its key.
        func keyProblem(_ what: String) -> String? {
            guard let top = frames.last, top.isMapping, top.expectingKey else { return nil }
            return "a mapping key must be a plain string; found \(what)"
        }

        /// A node is complete: its mapping, if it is in one, moves from key to value or back.
        mutating func completed() {
            if let last = frames.indices.last, frames[last].isMapping { frames[last].expectingKey.toggle() }
        }

        mutating func handle(_ event: inout yaml_event_t) -> String? {
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > ManifestDecoder.maximumDocuments {
                    return "the file holds more than \(ManifestDecoder.maximumDocuments) YAML documents; split it into several files"
                }
                total = 0
                if !anchors.isEmpty { anchors = [:] }
            case YAML_SCALAR_EVENT:
                if let problem = add(1) { return problem }
                if let anchor = event.data.scalar.anchor { anchors[String(cString: anchor)] = 1 }
                completed()
            case YAML_ALIAS_EVENT:
                if let problem = keyProblem("an alias") { return problem }
                let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
                if let problem = add(anchors[name] ?? 1) { return problem }
                completed()
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                if let problem = keyProblem(isMapping ? "a mapping" : "a sequence") { return problem }
                let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
                let start = total
                if let problem = add(1) { return problem }
                frames.append(Frame(isMapping: isMapping, start: start, anchor: anchor.map { String(cString: $0) }))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                if let frame = frames.popLast(), let anchor = frame.anchor { anchors[anchor] = total - frame.start }
                completed()
            default:
                break
            }
            return nil
        }
    }

    /// The first limit `text` passes, if any.
    static func check(_ text: String) -> Violation? {
        guard let failure = YAMLStream(text).failure, failure.isLimit else { return nil }
        return Violation(line: failure.line, column: failure.column, message: failure.message)
    }
}
