import KukeModel

/// Plans the conflist part: the file in the CNI directory and its copy beside `space.yaml`.
public enum ConflistPlanner {
    /// What is on disk for one space's conflist.
    public struct Observed: Sendable, Equatable {
        /// The text at the desired path, nil when absent.
        public var primary: String?
        /// The text of the copy beside `space.yaml`, nil when absent.
        public var copy: String?
        /// A conflist the space recorded at another path (after `cniConfigPath` changed), if it still exists.
        public var previousPath: String?

        public init(primary: String?, copy: String?, previousPath: String? = nil) {
            self.primary = primary
            self.copy = copy
            self.previousPath = previousPath
        }
    }

    public static let mode: UInt32 = 0o644

    /// The changes from `observed` to `desired`; a file that parses to the same JSON is left
    /// alone (formatting is not drift) unless `rewrite` asks for the canonical text.
    public static func plan(desired: Conflist, path: String, copyPath: String, observed: Observed, rewrite: Bool = false) -> [Change] {
        var changes: [Change] = []
        let text = desired.text  // rendered once for both files
        for (target, current) in [(path, observed.primary), (copyPath, observed.copy)] {
            if let change = fileChange(desired: desired, text: text, path: target, current: current, rewrite: rewrite) {
                changes.append(change)
            }
        }
        if let previous = observed.previousPath, previous != path {
            changes.append(
                Change(
                    part: .conflist, action: .delete, subject: previous, summary: "remove conflist \(previous) (cniConfigPath changed)",
                    diff: nil, operation: .removeFile(path: previous)))
        }
        return changes
    }

    static func fileChange(desired: Conflist, text: String, path: String, current: String?, rewrite: Bool) -> Change? {
        guard let current else {
            return Change(
                part: .conflist, action: .create, subject: path, summary: "create conflist \(path)",
                diff: UnifiedDiff.make(old: nil, new: text, oldLabel: path, newLabel: path),
                operation: .writeFile(path: path, text: text, mode: mode))
        }
        if current == text { return nil }
        if !rewrite, let parsed = try? JSONParser.parse(current), parsed == desired.json { return nil }
        return Change(
            part: .conflist, action: .update, subject: path, summary: "rewrite conflist \(path)",
            diff: UnifiedDiff.make(old: current, new: text, oldLabel: path, newLabel: path),
            operation: .writeFile(path: path, text: text, mode: mode))
    }
}
