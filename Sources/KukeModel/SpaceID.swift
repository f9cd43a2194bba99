/// The identity of a space: its realm and its name. A changed realm names another space.
public struct SpaceID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var realm: String
    public var name: String

    public init(realm: String, name: String) {
        self.realm = realm
        self.name = name
    }

    /// `realm/name`, as printed in outcomes and errors.
    public var description: String { "\(realm)/\(name)" }

    /// `<realm>-<space>`: the CNI network name and the conflist's file name stem.
    public var networkName: String { "\(realm)-\(name)" }

    public static func < (lhs: SpaceID, rhs: SpaceID) -> Bool {
        (lhs.realm, lhs.name) < (rhs.realm, rhs.name)
    }
}
