import KukeModel

/// Plans the limits part of a cgroup (`spec.resources`): the interface files to write so the
/// kernel holds the declared values, and the files kuke wrote before whose field is gone, reset
/// to the kernel's default. Files kuke never wrote are never read or touched, so a value an
/// operator set by hand survives. A controller the cgroup root does not delegate (on a hybrid
/// host, memory, cpu, io and pids are bound to cgroup v1) cannot be enforced: its settings are
/// left out and the resource fails with `ControllerUnavailable`, while everything else converges.
public enum ResourcePlanner {
    public struct Plan: Sendable, Equatable {
        public var changes: [Change]
        /// What `status.resources` records after the changes: the settings kuke holds; nil when none.
        public var written: [String: String]?
        public var failure: Failure?
    }

    /// - Parameters:
    ///   - path: the cgroup whose files are written (the space's or the realm's).
    ///   - stored: `status.resources` of the record, what kuke wrote before.
    ///   - offered: the cgroup root's `cgroup.subtree_control` (kuke delegates these down to `path`).
    ///   - available: the cgroup root's `cgroup.controllers`.
    ///   - pageSizes: the huge page sizes the kernel offers, asked for only when a hugetlb limit is declared.
    ///   - read: an interface file's text, nil when it does not exist (yet).
    public static func plan(
        path: String, root: String, limits: ResourceLimits, stored: [String: String]?, offered: [String], available: [String],
        pageSizes: () -> [String], read: (String) -> String?
    ) -> Plan {
        var problems: [String] = []
        for controller in limits.controllers where !offered.contains(controller) {
            if available.contains(controller) {
                problems.append(
                    "\(controller) is not delegated by the cgroup root \(root) (its cgroup.subtree_control lacks it): write +\(controller) there\(SystemdControllers.property(for: controller).map { "; under systemd, a unit with \($0) (kuke-watch.service has it) makes systemd enable it at every boot" } ?? "")"
                )
            } else {
                problems.append(
                    "\(controller) is not in the cgroup2 hierarchy at \(root) (on a hybrid host it is bound to cgroup v1; boot with systemd.unified_cgroup_hierarchy=1 to move the host to cgroup v2)"
                )
            }
        }
        var missingSizes: [String] = []
        if !limits.hugePageSizes.isEmpty, offered.contains("hugetlb") {
            let sizes = pageSizes()
            missingSizes = limits.hugePageSizes.filter { !sizes.contains($0) }
            if !missingSizes.isEmpty {
                problems.append(
                    "hugetlb page size \(missingSizes.joined(separator: ", ")) is not offered by this kernel (/sys/kernel/mm/hugepages has \(sizes.isEmpty ? "none" : sizes.joined(separator: ", ")))"
                )
            }
        }
        let enforced = limits.settings.filter { offered.contains($0.controller) && !missingSizes.contains(pageSize(of: $0.file) ?? "") }
        var changes: [Change] = []
        var texts: [String: String?] = [:]
        func text(_ file: String) -> String? {
            if let known = texts[file] { return known }
            let value = read(file)
            texts[file] = value
            return value
        }
        for setting in enforced {
            let current = text(setting.file).map { ResourceLimits.observedValue(of: setting, in: $0) }
            if let current, ResourceLimits.matches(observed: current, setting: setting) { continue }
            changes.append(write(setting, path: path, from: current))
        }
        let enforcedKeys = Set(enforced.map(\.key))
        for (key, value) in (stored ?? [:]).sorted(by: { $0.key < $1.key }) where !enforcedKeys.contains(key) {
            // A key that names no file kuke writes (a hand-edited record) is never read or reset.
            guard let reset = ResourceLimits.Setting(key: key, value: value)?.reset, offered.contains(reset.controller),
                let existing = text(reset.file)
            else { continue }  // nothing left to reset
            let current = ResourceLimits.observedValue(of: reset, in: existing)
            if current == reset.value { continue }
            var change = write(reset, path: path, from: current)
            change.summary += " (the field was removed: the kernel default)"
            changes.append(change)
        }
        let written = enforced.isEmpty ? nil : Dictionary(enforced.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        let failure = problems.isEmpty ? nil : Failure(.controllerUnavailable, problems.joined(separator: "; "))
        return Plan(changes: changes, written: written, failure: failure)
    }

    static func write(_ setting: ResourceLimits.Setting, path: String, from current: String?) -> Change {
        let label = "cgroup\(path)/\(setting.key)"
        return Change(
            part: .cgroup, action: current == nil ? .create : .update, subject: "\(path)/\(setting.file)",
            summary: "write \(setting.key) \(setting.value)",
            diff: UnifiedDiff.make(old: current.map { "\($0)\n" }, new: "\(setting.value)\n", oldLabel: label, newLabel: label),
            operation: .writeCgroupFile(path: path, file: setting.file, value: setting.line))
    }

    /// `2MB` of `hugetlb.2MB.max`.
    static func pageSize(of file: String) -> String? {
        guard file.hasPrefix("hugetlb."), file.hasSuffix(".max") else { return nil }
        return String(file.dropFirst(8).dropLast(4))
    }
}
