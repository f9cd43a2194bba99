/// The rule a manifest broke; its raw value is printed so an operator can search the docs for it.
public enum ManifestRule: String, Sendable, CaseIterable {
    case yamlSyntax = "yaml-syntax"
    case documentShape = "document-shape"
    case apiVersion = "api-version"
    case kind = "kind"
    case required = "required"
    case unknownField = "unknown-field"
    case fieldType = "field-type"
    case fieldValue = "field-value"
    case name = "name"
    case label = "label"
    case realmId = "realm-id"
    case cniConfigPath = "cni-config-path"
    case hostSelector = "host-selector"
    case duplicate = "duplicate"
    case input = "input"
    /// What stands where a manifest file is, or was, cannot be read as one right now: an empty
    /// or whitespace-only file, a dangling link, a directory, a file that vanished while being
    /// read. Usually a file being replaced (`cp`, `rsync --inplace`, a link swap); it holds prune.
    case transient = "transient"
}

/// One problem found in a manifest before anything was changed.
public struct ManifestIssue: Error, Sendable, Hashable, CustomStringConvertible {
    public var position: SourcePosition
    public var rule: ManifestRule
    public var message: String

    public init(_ position: SourcePosition, _ rule: ManifestRule, _ message: String) {
        self.position = position
        self.rule = rule
        self.message = message
    }

    /// `FILE:LINE:COLUMN: message [rule]`.
    public var description: String { "\(position): \(message) [\(rule.rawValue)]" }
}

/// Every issue of a batch, reported together.
public struct ManifestIssues: Error, Sendable, CustomStringConvertible {
    public var issues: [ManifestIssue]
    public init(_ issues: [ManifestIssue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
