import KukeModel

/// Plans the cgroup part: the directories below the root, and delegation, through every
/// level's `cgroup.subtree_control`, of the controllers the root already delegates (what
/// the parent offers). The root itself is never written: it belongs to the host (systemd).
/// Values written by hand into the directories are never touched.
public enum CgroupPlanner {
    /// - Parameters:
    ///   - root: the cgroup root (never created or written).
    ///   - levels: directories below the root, top-down; the last is the resource's own.
    ///   - offered: the controllers the root delegates (its `cgroup.subtree_control`).
    ///   - observed: each path's state, nil when the directory is missing.
    ///   - managed: the controllers the host's cgroup manager enables itself (systemd's, under the
    ///     systemd driver), never written by kuke; empty under cgroupfs.
    public static func plan(
        root: String, levels: [String], offered: [String], observed: [String: ObservedCgroup], managed: Set<String> = []
    ) -> [Change] {
        var changes: [Change] = []
        for path in levels {
            var diff = UnifiedDiff.make(
                old: observed[path].map { describe(path, $0.subtreeControl.filter { !managed.contains($0) }) },
                new: describe(path, predictedSubtree(of: path, offered: offered, observed: observed, managed: managed)),
                oldLabel: "cgroup\(path)", newLabel: "cgroup\(path)")
            if observed[path] == nil {
                changes.append(
                    Change(
                        part: .cgroup, action: .create, subject: path, summary: "create cgroup \(path)", diff: diff,
                        operation: .makeCgroup(path: path)))
                diff = nil
            }
            let enabled = Set(observed[path]?.subtreeControl ?? [])
            let missing = offered.filter { !enabled.contains($0) && !managed.contains($0) }
            if !missing.isEmpty {
                changes.append(
                    Change(
                        part: .cgroup, action: .update, subject: path,
                        summary: "delegate \(missing.joined(separator: " ")) in \(path)/cgroup.subtree_control",
                        diff: diff, operation: .enableControllers(path: path, controllers: missing)))
            }
        }
        return changes
    }

    /// The state of a cgroup directory as `kuke diff` shows it.
    static func describe(_ path: String, _ controllers: [String]) -> String {
        "cgroup: \(path)\nsubtree_control: \(controllers.isEmpty ? "(none)" : controllers.sorted().joined(separator: " "))\n"
    }

    /// The controllers a directory will delegate once `plan`'s changes are applied, sorted;
    /// `managed` ones (systemd's, which come and go with its units) left out.
    public static func predictedSubtree(
        of path: String, offered: [String], observed: [String: ObservedCgroup], managed: Set<String> = []
    ) -> [String] {
        Array(Set(offered).union(observed[path]?.subtreeControl ?? []).subtracting(managed)).sorted()
    }
}
