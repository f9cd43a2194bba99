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

    public init(matchLabels: [(key: String, value: String)] = [], matchExpressions: [Expression] = []) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    public static func == (a: HostSelector, b: HostSelector) -> Bool {
        a.matchLabels.map(\.key) == b.matchLabels.map(\.key) && a.matchLabels.map(\.value) == b.matchLabels.map(\.value)
            && a.matchExpressions == b.matchExpressions
    }

    /// The selector a manifest or record holds (`spec.hostSelector`, stored as written); nil
    /// when there is none. Entries that do not fit the schema are left out: a manifest's are
    /// refused by `issues` before this is ever asked.
    public init?(_ value: ManifestValue?) {
        guard let value, case .map = value else { return nil }
        var labels: [(key: String, value: String)] = []
        if case .map(let entries)? = value["matchLabels"] {
            for entry in entries { if let text = entry.value.stringValue { labels.append((entry.key, text)) } }
        }
        var expressions: [Expression] = []
        if case .list(let items)? = value["matchExpressions"] {
            for item in items {
                guard let key = item["key"]?.stringValue, let name = item["operator"]?.stringValue, let op = Operator(rawValue: name) else {
                    continue
                }
                var values: [String] = []
                if case .list(let list)? = item["values"] { values = list.compactMap(\.stringValue) }
                expressions.append(Expression(key: key, operator: op, values: values))
            }
        }
        self.init(matchLabels: labels, matchExpressions: expressions)
    }

    /// Whether a host with `labels` is selected.
    public func matches(_ labels: [String: String]) -> Bool {
        matchLabels.allSatisfy { labels[$0.key] == $0.value }
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
            let path = "\(base).matchExpressions[\(index)]"
            let at = positions[path] ?? document
            guard let key = item["key"]?.stringValue else {
                issues.append(ManifestIssue(at, .required, "\(path).key is required"))
                continue
            }
            if let problem = Label.keyProblem(key) {
                issues.append(ManifestIssue(positions["\(path).key"] ?? at, .hostSelector, "\(path).key: \(problem)"))
            }
            guard let name = item["operator"]?.stringValue, let op = Operator(rawValue: name) else {
                if positions["\(path).operator"] == nil {
                    issues.append(ManifestIssue(at, .required, "\(path).operator is required (In, NotIn, Exists or DoesNotExist)"))
                }
                continue
            }
            var values: [String] = []
            if case .list(let list)? = item["values"] { values = list.compactMap(\.stringValue) }
            switch op {
            case .in, .notIn:
                if values.isEmpty {
                    issues.append(ManifestIssue(positions["\(path).values"] ?? at, .hostSelector, "\(path).values must not be empty for \(name)"))
                }
                for (number, text) in values.enumerated() {
                    if let problem = Label.valueProblem(text, key: key) {
                        issues.append(
                            ManifestIssue(positions["\(path).values[\(number)]"] ?? at, .hostSelector, "\(path).values[\(number)]: \(problem)"))
                    }
                }
            case .exists, .doesNotExist:
                if item["values"] != nil {
                    issues.append(ManifestIssue(positions["\(path).values"] ?? at, .hostSelector, "\(path).values must be absent for \(name)"))
                }
            }
        }
        return issues
    }
}
