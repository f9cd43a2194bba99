import KukeEngine
import KukeModel

/// What the schema fuzzer checks beyond `ManifestChecks`. Every check traps when a property
/// breaks, so libFuzzer keeps the input; reaching the end without a trap is the property
/// "numbers never trap" for the paths that read a value again after validation.
enum SchemaChecks {
    /// A host configuration decodes, or every problem has a position.
    static func hostConfig(_ text: String) {
        guard case .failure(let issues) = HostConfig.decode(text, file: "kuke.yaml") else { return }
        for issue in issues.issues {
            precondition(issue.position.line >= 1 && issue.position.column >= 1, "a host configuration issue without a position: \(issue)")
        }
    }

    /// A valid `spec.resources` becomes one setting per field written, none dropped, and each
    /// setting reads back from its `status.resources` key and matches itself.
    static func validLimits(_ resources: ManifestValue?, text: String) {
        let limits = ResourceLimits(resources)
        precondition(limits.settings.count == declaredFields(resources), "a valid limit was dropped: \(limits.settings)\n\(text)")
        for setting in limits.settings {
            precondition(ResourceLimits.Setting(key: setting.key, value: setting.value) == setting, "\(setting.key) does not read back\n\(text)")
            precondition(ResourceLimits.matches(observed: setting.value, setting: setting), "\(setting) does not match itself\n\(text)")
        }
    }

    /// How many settings a valid `spec.resources` declares (devices and page sizes are unique).
    static func declaredFields(_ resources: ManifestValue?) -> Int {
        var count = 0
        for (group, fields) in [("cpu", ["max", "weight"]), ("memory", ["max", "high", "swapMax"]), ("pids", ["max"]), ("io", ["weight"])] {
            count += fields.filter { resources?[group]?[$0] != nil }.count
        }
        if case .list(let devices)? = resources?["io"]?["max"] { count += devices.count }
        if case .list(let pages)? = resources?["hugetlb"] { count += pages.count }
        return count
    }

    /// A valid deny policy keeps every rule it was given.
    static func validEgress(_ network: ManifestValue?, text: String) {
        guard let policy = EgressPolicy(network: network), case .list(let rules)? = network?["egress"]?["allow"] else { return }
        precondition(policy.rules.count == rules.count, "a valid egress rule was dropped\n\(text)")
    }

    /// The document as a record on disk (a hand edit: no validation but the schema's types),
    /// read as `kuke apply`, `diff`, `describe` and `doctor` read records, then planned against
    /// cgroup files holding hostile numbers, and read as `kuke top` reads them.
    static func record(_ text: String, kind: String, choices: inout Choices) {
        let recordText = RecordCodec.header + text + RecordCodec.endMarker
        let spec: ManifestValue?
        let stored: [String: String]?
        if kind == "Space" {
            guard let record = try? RecordCodec.decodeSpace(recordText, file: "space.yaml") else { return }
            (spec, stored) = (record.spec.resources, record.status.resources)
            _ = EgressPolicy(network: record.spec.network)
        } else {
            guard let record = try? RecordCodec.decodeRealm(recordText, file: "realm.yaml") else { return }
            (spec, stored) = (record.spec.resources, record.status.resources)
        }
        let limits = ResourceLimits(spec)
        var files: [String: String] = [:]
        for file in ["cpu.max", "memory.max", "memory.high", "pids.max", "io.max", "io.weight", "io.stat", "cpu.stat", "memory.current"] {
            guard choices.chance(60) else { continue }
            let number = HostileValues.number(&choices)
            files[file] =
                switch file {
                case "cpu.max": "\(number) \(HostileValues.number(&choices))\n"
                case "io.max": "8:0 rbps=\(number) wbps=max riops=\(HostileValues.number(&choices)) wiops=max\n"
                case "io.weight": "default \(number)\n"
                case "io.stat": "8:0 rbytes=\(number) wbytes=\(number)\n8:16 rbytes=\(number) wbytes=\(HostileValues.number(&choices))\n"
                case "cpu.stat": "usage_usec \(number)\n"
                default: "\(number)\n"
                }
        }
        _ = ResourcePlanner.plan(
            path: "/cg/kukeon/main/blog", root: "/cg", limits: limits, stored: stored, offered: ["cpu", "memory", "pids", "io", "hugetlb"],
            available: ["cpu", "memory", "pids", "io", "hugetlb"], pageSizes: { ["2MB", "1GB"] }, read: { files[$0] })
        for (key, value) in stored ?? [:] {
            guard let setting = ResourceLimits.Setting(key: key, value: value) else { continue }
            _ = ResourceLimits.matches(observed: files[setting.file] ?? value, setting: setting)
        }
        let usage = CgroupUsage { files[$0] }
        _ = usage.memoryLimit.map(CgroupUsage.bytes)
        _ = CgroupUsage.cpuPercent(from: CgroupUsage(), to: usage, seconds: Double(choices.below(3)))
    }
}
