/// Checks a whole batch: the same resource declared twice is an error at the second declaration.
public enum BatchValidator {
    public static func duplicates(in resources: [Resource]) -> [ManifestIssue] {
        var seen: [String: ManifestOrigin] = [:]
        var issues: [ManifestIssue] = []
        for resource in resources {
            let key = "\(resource.kind)/\(resource.displayName)"
            if let first = seen[key] {
                issues.append(
                    ManifestIssue(
                        resource.origin.name, .duplicate, "\(resource.kind) \"\(resource.displayName)\" is declared twice; first at \(first.name)"))
            } else {
                seen[key] = resource.origin
            }
        }
        return issues
    }
}
