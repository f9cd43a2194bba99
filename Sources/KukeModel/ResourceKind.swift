/// What a pass reports on: the two kinds of manifest, and the isolation table the pass keeps.
/// The raw value is what outcomes print (`Space "main/blog": created`), `-o json` gives as
/// `kind` and the metrics label `kind`.
public enum ResourceKind: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    case realm = "Realm"
    case space = "Space"
    case firewall = "Firewall"

    public var description: String { rawValue }

    /// Realms before spaces before the table: the order of a pass.
    public static func < (a: ResourceKind, b: ResourceKind) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}
