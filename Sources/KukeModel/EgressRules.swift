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
            let path = "spec.network.egress.allow[\(index)]"
            let position = positions[path] ?? document
            if case .list(let ports)? = rule["ports"] {
                for (item, port) in ports.enumerated() {
                    if case .failure(let error) = EgressPorts.entry(port) {
                        let portPath = "\(path).ports[\(item)]"
                        issues.append(ManifestIssue(positions[portPath] ?? position, .fieldValue, "\(portPath): \(error)"))
                    }
                }
            }
            let host = rule["host"]?.stringValue
            let cidr = rule["cidr"]?.stringValue
            switch (host, cidr) {
            case (nil, nil):
                issues.append(ManifestIssue(position, .fieldValue, "\(path): give one of host or cidr"))
            case (.some, .some):
                issues.append(ManifestIssue(position, .fieldValue, "\(path): give host or cidr, not both"))
            case (let host?, nil):
                if let problem = hostProblem(host) {
                    issues.append(ManifestIssue(positions["\(path).host"] ?? position, .fieldValue, "\(path).host \"\(host)\" \(problem)"))
                }
            case (nil, let cidr?):
                if !isCIDR(cidr) && IPv6Subnet(cidr, hostBits: true) == nil {
                    issues.append(
                        ManifestIssue(
                            positions["\(path).cidr"] ?? position, .fieldValue,
                            "\(path).cidr \"\(cidr)\" is not an IPv4 network in CIDR form (like 10.0.0.0/8) or an IPv6 one (like fd00::/8)"))
                }
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
