/// The rules of `spec.network.egress` beyond its shape (upstream Kukeon's semantics): each
/// `allow` entry has exactly one of `host` or `cidr`; a CIDR is an IPv4 network in CIDR form
/// (host bits may be set, as `net.ParseCIDR` allows); a host is a DNS name; each entry of
/// `ports` is one `EgressPorts.entry` reads (a TCP port, `PORT[/PROTO]`, `FROM-TO[/PROTO]` or
/// `icmp`), at the entry's own position.
enum EgressRules {
    /// The issues of one document's egress policy, at the positions the walk recorded.
    static func issues(_ network: ManifestValue?, positions: [String: SourcePosition], document: SourcePosition) -> [ManifestIssue] {
        guard case .list(let rules)? = network?["egress"]?["allow"] else { return [] }
        var issues: [ManifestIssue] = []
        for (index, rule) in rules.enumerated() {
            // The policy's own reader (`EgressPolicy.rule`): what is refused here is what it would not enforce.
            guard case .failure(let found) = EgressPolicy.rule(rule) else { continue }
            let path = "spec.network.egress.allow[\(index)]"
            let position = positions[path] ?? document
            for problem in found.problems {
                issues.append(ManifestIssue(positions[path + problem.field] ?? position, .fieldValue, path + problem.field + problem.text))
            }
        }
        return issues
    }

    /// `a.b.c.d/n`, host bits allowed.
    static func isCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, IPv4Address(String(parts[0])) != nil, let length = Int(parts[1]), parts[1].allSatisfy(\.isNumber) else {
            return false
        }
        return (0...32).contains(length)
    }

    /// Why `host` is not a DNS name (labels of letters, digits and `-`, at most 253 bytes), or nil.
    static func hostProblem(_ host: String) -> String? {
        if host.isEmpty { return "is empty" }
        if host.utf8.count > 253 { return "is longer than 253 bytes" }
        if IPv4Address(host) != nil { return "is an address: use cidr with /32" }
        if IPv6Address(host) != nil { return "is an address: use cidr with /128" }
        let name = host.hasSuffix(".") ? String(host.dropLast()) : host
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63 else { return "has an empty or over-long label" }
            guard label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }), label.first != "-", label.last != "-" else {
                return "is not a DNS name (letters, digits and \"-\" between dots)"
            }
        }
        return nil
    }
}
