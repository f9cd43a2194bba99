/// Builds YAML documents shaped like kuke's schema from the fuzzer's choices: the real keys of
/// Realm, Space (and their records' status) and HostConfig, block style, with hostile values
/// (`HostileValues`) where numbers, units, sizes, ports, addresses and selectors go. Now and
/// then a key is misspelt or a value has the wrong shape, so the error paths are reached too.
struct SchemaDocument {
    var choices: Choices
    var lines: [String] = []

    init(_ choices: Choices) { self.choices = choices }

    /// The document's text.
    var text: String { lines.joined(separator: "\n") + "\n" }

    mutating func line(_ indent: Int, _ text: String) { lines.append(String(repeating: "  ", count: indent) + text) }

    /// `key: value`, the key now and then misspelt.
    mutating func field(_ indent: Int, _ key: String, _ value: String) {
        line(indent, "\(spelt(key)): \(HostileValues.scalar(value, &choices))")
    }

    mutating func spelt(_ key: String) -> String {
        guard choices.chance(3), !key.isEmpty else { return key }
        return choices.pick([key.uppercased(), String(key.dropLast()), key + "s", key + " ", "x" + key])
    }

    /// A Realm, a Space, or a HostConfig (`kind`), with or without status.
    mutating func document(kind: String, status: Bool) {
        line(0, "apiVersion: \(choices.chance(95) ? "v1beta1" : choices.pick(["v1", "v1beta2", "1"]))")
        line(0, "kind: \(kind)")
        if kind == "HostConfig" {
            hostConfigSpec()
            return
        }
        line(0, "metadata:")
        field(1, "name", choices.chance(90) ? choices.pick(["main", "blog", "a", "db-1"]) : HostileValues.label(&choices))
        if choices.chance(30) { field(1, "generation", HostileValues.number(&choices)) }
        if choices.chance(30) { labels(1, "labels") }
        line(0, "spec:")
        if kind == "Space" {
            field(1, "realmId", "main")
            if choices.chance(30) { egress(1) }
            if choices.chance(20) { containerDefaults(1) }
        } else if choices.chance(20) {
            field(1, "namespace", "kukeon")
        }
        if choices.chance(80) { resources(1) }
        if choices.chance(25) { hostSelector(1) }
        if status { recordStatus() }
    }

    mutating func labels(_ indent: Int, _ key: String) {
        line(indent, "\(key):")
        for index in 0..<(1 + choices.below(3)) {
            let key = HostileValues.scalar(choices.chance(60) ? "k\(index)" : HostileValues.label(&choices), &choices)
            line(indent + 1, "\(key): \(HostileValues.scalar(HostileValues.label(&choices), &choices))")
        }
    }

    mutating func resources(_ indent: Int) {
        line(indent, "resources:")
        let inner = indent + 1
        if choices.chance(60) {
            line(inner, "cpu:")
            if choices.chance(80) { field(inner + 1, "max", HostileValues.quantity(&choices)) }
            if choices.chance(40) { field(inner + 1, "weight", HostileValues.number(&choices)) }
        }
        if choices.chance(50) {
            line(inner, "memory:")
            for key in ["max", "high", "swapMax"] where choices.chance(60) { field(inner + 1, key, HostileValues.quantity(&choices)) }
        }
        if choices.chance(40) {
            line(inner, "pids:")
            field(inner + 1, "max", choices.chance(70) ? HostileValues.number(&choices) : HostileValues.quantity(&choices))
        }
        if choices.chance(40) {
            line(inner, "io:")
            if choices.chance(40) { field(inner + 1, "weight", HostileValues.number(&choices)) }
            line(inner + 1, "max:")
            for _ in 0..<(1 + choices.below(3)) {
                line(inner + 2, "- device: \(HostileValues.scalar(HostileValues.device(&choices), &choices))")
                for key in ["rbps", "wbps"] where choices.chance(50) { field(inner + 3, key, HostileValues.quantity(&choices)) }
                for key in ["riops", "wiops"] where choices.chance(50) { field(inner + 3, key, HostileValues.number(&choices)) }
            }
        }
        if choices.chance(40) {
            line(inner, "hugetlb:")
            for _ in 0..<(1 + choices.below(3)) {
                line(inner + 1, "- pageSize: \(HostileValues.scalar(HostileValues.pageSize(&choices), &choices))")
                if choices.chance(90) { field(inner + 2, "max", HostileValues.quantity(&choices)) }
            }
        }
    }

    mutating func egress(_ indent: Int) {
        line(indent, "network:")
        line(indent + 1, "egress:")
        field(indent + 2, "default", choices.pick(["deny", "allow", "deny", "block"]))
        line(indent + 2, "allow:")
        for _ in 0..<(1 + choices.below(3)) {
            if choices.chance(70) {
                line(indent + 3, "- cidr: \(HostileValues.scalar(HostileValues.cidr(&choices), &choices))")
            } else {
                line(indent + 3, "- host: \(choices.pick(["example.com", "a.b", "10.0.0.1", "-x.com", "x..y", "example.com."]))")
            }
            if choices.chance(60) {
                line(indent + 4, "ports:")
                for _ in 0..<(1 + choices.below(4)) { line(indent + 5, "- \(HostileValues.number(&choices))") }
            }
        }
    }

    mutating func containerDefaults(_ indent: Int) {
        line(indent, "defaults:")
        line(indent + 1, "container:")
        line(indent + 2, "resources:")
        for key in ["memoryLimitBytes", "cpuShares", "pidsLimit"] where choices.chance(60) { field(indent + 3, key, HostileValues.number(&choices)) }
        if choices.chance(40) {
            line(indent + 2, "tmpfs:")
            line(indent + 3, "- path: /tmp")
            field(indent + 4, "sizeBytes", HostileValues.number(&choices))
        }
    }

    mutating func hostSelector(_ indent: Int) {
        line(indent, "hostSelector:")
        if choices.chance(60) { labels(indent + 1, "matchLabels") }
        if choices.chance(60) {
            line(indent + 1, "matchExpressions:")
            for _ in 0..<(1 + choices.below(3)) {
                line(indent + 2, "- key: \(HostileValues.scalar(HostileValues.label(&choices), &choices))")
                field(indent + 3, "operator", choices.pick(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "in"]))
                if choices.chance(70) {
                    line(indent + 3, "values:")
                    for _ in 0..<choices.below(4) { line(indent + 4, "- \(HostileValues.scalar(HostileValues.label(&choices), &choices))") }
                }
            }
        }
    }

    /// The status of a record: numbers a hand edit could leave, and `status.resources` keys.
    mutating func recordStatus() {
        line(0, "status:")
        field(1, "state", choices.pick(["Ready", "Pending", "Failed", "Deleting", "Bogus"]))
        if choices.chance(50) { field(1, "observedGeneration", HostileValues.number(&choices)) }
        if choices.chance(40) {
            line(1, "network:")
            field(2, "name", "main-blog")
            field(2, "bridge", "kuke-main-blog")
            field(2, "subnet", HostileValues.cidr(&choices))
            field(2, "conflistPath", "/etc/cni/net.d/main-blog.conflist")
        }
        if choices.chance(60) {
            line(1, "resources:")
            let files = [
                "cpu.max", "memory.max", "pids.max", "io.max 8:0", "io.weight", "hugetlb.2MB.max", "", " ", "io.max", "../x", "memory.max 8:0",
            ]
            for _ in 0..<(1 + choices.below(4)) {
                let file = choices.chance(70) ? choices.pick(files) : "hugetlb.\(HostileValues.pageSize(&choices)).max"
                line(2, "\(HostileValues.scalar(file, &choices)): \(HostileValues.scalar(HostileValues.quantity(&choices), &choices))")
            }
        }
        if choices.chance(20) { field(1, "createdAt", choices.pick(["2026-01-01T00:00:00Z", "99999-01-01T00:00:00Z", "0000-01-01T00:00:00Z"])) }
    }

    mutating func hostConfigSpec() {
        line(0, "spec:")
        if choices.chance(70) { labels(1, "labels") }
        if choices.chance(70) { field(1, "subnetPool", HostileValues.cidr(&choices)) }
        if choices.chance(30) { field(1, "runPath", choices.pick(["/opt/kukeon", "relative", "/"])) }
    }
}
