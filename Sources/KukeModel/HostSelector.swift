/// `spec.hostSelector` of a Realm or a Space: Kubernetes' LabelSelector, matched against the
/// labels of the host kuke runs on (its `HostConfig` and the built-in `kukeon.io/*` labels).
/// `matchLabels` and every `matchExpressions` entry must all hold; an empty selector selects
/// every host, as in Kubernetes.
public struct HostSelector: Sendable, Equatable, CustomStringConvertible {
    public enum Operator: String, Sendable, CaseIterable {
        case `in` = "In"
        case notIn = "NotIn"
        case exists = "Exists"
        case doesNotExist = "DoesNotExist"
    }

    public struct Expression: Sendable, Equatable {
        public var key: String
        public var `operator`: Operator
        public var values: [String]

        public init(key: String, operator: Operator, values: [String] = []) {
            self.key = key
            self.operator = `operator`
            self.values = values
        }
    }

    public var matchLabels: [(key: String, value: String)]
    public var matchExpressions: [Expression]
    /// Some entry of the selector as written did not read (never stored: a manifest's is
    /// refused with positions first); such a selector selects no host rather than more hosts.
    public var unreadable = false

    public init(matchLabels: [(key: String, value: String)] = [], matchExpressions: [Expression] = []) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    public static func == (a: HostSelector, b: HostSelector) -> Bool {
        a.matchLabels.map(\.key) == b.matchLabels.map(\.key) && a.matchLabels.map(\.value) == b.matchLabels.map(\.value)
            && a.matchExpressions == b.matchExpressions && a.unreadable == b.unreadable
    }

    /// The selector a manifest or record holds (`spec.hostSelector`, stored as written); nil
    /// when there is none. Each expression is read by `expression(_:)`, the reader validation
    /// uses; one that does not read (or a label value that is not a string) makes the selector
    /// `unreadable`: it selects no host, never more than was written.
    public init?(_ value: ManifestValue?) {
        guard let value, case .map = value else { return nil }
        var labels: [(key: String, value: String)] = []
        var unreadable = false
        if case .map(let entries)? = value["matchLabels"] {
            for entry in entries {
                if let text = entry.value.stringValue { labels.append((entry.key, text)) } else { unreadable = true }
            }
        }
        var expressions: [Expression] = []
        if case .list(let items)? = value["matchExpressions"] {
            for item in items {
                if let expression = Self.expression(item).expression { expressions.append(expression) } else { unreadable = true }
            }
        }
        self.init(matchLabels: labels, matchExpressions: expressions)
        self.unreadable = unreadable
    }

    /// What is wrong with a `matchExpressions` entry: the field it is at (`""` for the entry,
    /// `.key`, `.values`, `.values[1]`), the rule it breaks, and its text after the field's path.
    struct ExpressionProblem: Sendable {
        var field: String
        var rule: ManifestRule
        var text: String
    }

    /// One `matchExpressions` entry read: a key that is a label key, an operator, values for
    /// In and NotIn (label values, at least one) and none for Exists and DoesNotExist. The
    /// expression when it reads, and every problem found. An operator that is there but is not
    /// one of the four is the schema's to report (`oneOf`), not this reader's.
    static func expression(_ item: ManifestValue) -> (expression: Expression?, problems: [ExpressionProblem]) {
        guard let key = item["key"]?.stringValue else { return (nil, [ExpressionProblem(field: "", rule: .required, text: ".key is required")]) }
        var problems: [ExpressionProblem] = []
        if let problem = Label.keyProblem(key) { problems.append(ExpressionProblem(field: ".key", rule: .hostSelector, text: ": \(problem)")) }
        guard let name = item["operator"]?.stringValue, let op = Operator(rawValue: name) else {
            if item["operator"] == nil {
                problems.append(ExpressionProblem(field: "", rule: .required, text: ".operator is required (In, NotIn, Exists or DoesNotExist)"))
            }
            return (nil, problems)
        }
        var values: [String] = []
        if case .list(let list)? = item["values"] { values = list.compactMap(\.stringValue) }
        switch op {
        case .in, .notIn:
            if values.isEmpty { problems.append(ExpressionProblem(field: ".values", rule: .hostSelector, text: " must not be empty for \(name)")) }
            for (number, text) in values.enumerated() {
                if let problem = Label.valueProblem(text, key: key) {
                    problems.append(ExpressionProblem(field: ".values[\(number)]", rule: .hostSelector, text: ": \(problem)"))
                }
            }
        case .exists, .doesNotExist:
            if item["values"] != nil {
                problems.append(ExpressionProblem(field: ".values", rule: .hostSelector, text: " must be absent for \(name)"))
            }
        }
        return (problems.isEmpty ? Expression(key: key, operator: op, values: values) : nil, problems)
    }

    /// Whether a host with `labels` is selected.
    public func matches(_ labels: [String: String]) -> Bool {
        !unreadable
            && matchLabels.allSatisfy { labels[$0.key] == $0.value }
            && matchExpressions.allSatisfy { expression in
                switch expression.operator {
                case .in: labels[expression.key].map(expression.values.contains) ?? false
                case .notIn: labels[expression.key].map { !expression.values.contains($0) } ?? true
                case .exists: labels[expression.key] != nil
                case .doesNotExist: labels[expression.key] == nil
                }
            }
    }

    /// As kubectl prints a selector: `role=web,site in (ams,fra),!gpu`.
    public var description: String {
        let parts =
            matchLabels.map { "\($0.key)=\($0.value)" }
            + matchExpressions.map { expression in
                switch expression.operator {
                case .in: "\(expression.key) in (\(expression.values.joined(separator: ",")))"
                case .notIn: "\(expression.key) notin (\(expression.values.joined(separator: ",")))"
                case .exists: expression.key
                case .doesNotExist: "!\(expression.key)"
                }
            }
        if unreadable { return "(unreadable: no host)" }
        return parts.isEmpty ? "(every host)" : parts.joined(separator: ",")
    }

    /// The schema of `spec.hostSelector`.
    static let schema = FieldSchema.object([
        "matchLabels": .stringMap,
        "matchExpressions": .list(.object(["key": .string, "operator": .oneOf(Operator.allCases.map(\.rawValue)), "values": .list(.string)])),
    ])

    /// The rules the schema cannot say: label keys and values, a key for each expression,
    /// values for In and NotIn and none for Exists and DoesNotExist; each at its position.
    static func issues(
        _ value: ManifestValue?, labelEntries: [SchemaWalker.MapEntry], positions: [String: SourcePosition], document: SourcePosition
    ) -> [ManifestIssue] {
        guard let value else { return [] }
        let base = "spec.hostSelector"
        var issues = ManifestDecoder.labelIssues(labelEntries)
        guard case .list(let items)? = value["matchExpressions"] else { return issues }
        for (index, item) in items.enumerated() {
            // The selector's own reader: what is refused here is what it would not select by.
            let path = "\(base).matchExpressions[\(index)]"
            let at = positions[path] ?? document
            for problem in Self.expression(item).problems {
                issues.append(
                    ManifestIssue(
                        problem.field.isEmpty ? at : positions[path + problem.field] ?? at, problem.rule, path + problem.field + problem.text))
            }
        }
        return issues
    }
}
