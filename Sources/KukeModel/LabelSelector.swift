import Foundation

/// A label selector as `kubectl get -l` takes it: requirements joined by `,` (all must hold):
/// `key=value` or `key==value`, `key!=value`, `key` (the label is set), `!key` (it is not).
public struct LabelSelector: Sendable, Equatable {
    public enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case exists(String)
        case doesNotExist(String)
    }

    public var requirements: [Requirement]

    public init(requirements: [Requirement]) { self.requirements = requirements }

    /// Parses `-l` text; the error says which part is wrong and why.
    public init(parsing text: String) throws(SelectorError) {
        var requirements: [Requirement] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let part = raw.trimmingCharacters(in: .whitespaces)
            guard !part.isEmpty else { throw SelectorError("empty requirement in \"\(text)\"") }
            let requirement: Requirement
            if let range = part.range(of: "!=") {
                requirement = .notEquals(String(part[..<range.lowerBound]), String(part[range.upperBound...]))
            } else if let range = part.range(of: "==") {
                requirement = .equals(String(part[..<range.lowerBound]), String(part[range.upperBound...]))
            } else if let range = part.range(of: "=") {
                requirement = .equals(String(part[..<range.lowerBound]), String(part[range.upperBound...]))
            } else if part.hasPrefix("!") {
                requirement = .doesNotExist(String(part.dropFirst()))
            } else {
                requirement = .exists(part)
            }
            switch requirement {
            case .equals(let key, let value), .notEquals(let key, let value):
                if let problem = Label.keyProblem(key) { throw SelectorError("\"\(part)\": \(problem)") }
                if let problem = Label.valueProblem(value, key: key) { throw SelectorError("\"\(part)\": \(problem)") }
            case .exists(let key), .doesNotExist(let key):
                if let problem = Label.keyProblem(key) { throw SelectorError("\"\(part)\": \(problem)") }
            }
            requirements.append(requirement)
        }
        self.requirements = requirements
    }

    /// Whether `labels` meet every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            }
        }
    }
}

/// Why a label selector does not parse.
public struct SelectorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
