import KukeModel

/// One part of a space that kuke keeps on the host besides its record: its cgroup, its conflist,
/// its bridge (`SpaceParts.standard`), or one a test defines. The engine never names a part: it
/// asks each, in phase order, what it needs (`plan`) and what removing it takes (`teardown`);
/// the phased batch, the dry run, `diff`, `delete` and the crash points then carry out, show or
/// interrupt the changes the parts planned, whatever they are.
///
/// The frame around the parts is the engine's own: the space's identity on the network (name,
/// bridge and ranges, resolved once by `NetworkResolver` and shared by every part), its record
/// (written `Pending` before the parts and `Ready` after them), and the isolation table, which
/// belongs to every space at once (`FirewallPass`), settled after the parts and before `Ready`.
public protocol SpacePart: Sendable {
    /// What its changes carry (`Change.part`): the name diff, the log and `-o json` show, and
    /// the failure reason when the host refuses one of them.
    var part: Part { get }
    /// When its changes are made in a pass, relative to the other parts' (lower first); a delete
    /// takes the parts down in the reverse order.
    var phase: Int { get }
    /// The changes that bring the part from what the host holds to what `space` asks, and what it
    /// records in the space's status. Throws to refuse the space (nothing changes for it).
    func plan(_ space: DesiredSpace, status: inout SpaceStatus, context: PassContext) throws(Failure) -> PartPlan
    /// Reads back, once the changes are made and before the space is recorded `Ready`, what the
    /// status says of the part; throws when the host does not hold it (the space fails instead).
    func confirm(_ id: SpaceID, status: inout SpaceStatus, context: PassContext) throws(Failure)
    /// The changes that take the part off the host when the space is deleted. Throws to refuse
    /// the delete; every part is asked before anything changes, in phase order.
    func teardown(_ space: DoomedSpace, context: PassContext) throws(Failure) -> PartPlan
}

extension SpacePart {
    /// Nothing to read back: what was planned is what the status says.
    public func confirm(_ id: SpaceID, status: inout SpaceStatus, context: PassContext) throws(Failure) {}
}

/// What a part plans: its changes, in the order they are carried out, and what the space
/// converges without (it fails after the others converge) or what its operator should know.
public struct PartPlan: Sendable {
    public var changes: [Change]
    /// What interrupted writes of the part left (temporary files): removed before any part's
    /// changes, with the record's own.
    public var leftovers: [Change]
    /// A failure the other parts converge in spite of (a limit whose controller is missing).
    public var softFailure: Failure?
    public var warnings: [String]

    public init(changes: [Change] = [], leftovers: [Change] = [], softFailure: Failure? = nil, warnings: [String] = []) {
        self.changes = changes
        self.leftovers = leftovers
        self.softFailure = softFailure
        self.warnings = warnings
    }
}

/// A space as the parts plan it: its manifest, its record as stored (nil for a new space), the
/// pass's inventory and the network the engine resolved for it.
public struct DesiredSpace: Sendable {
    public var manifest: SpaceManifest
    public var stored: SpaceRecord?
    public var inventory: Inventory
    /// Its name, bridge, ranges and conflist path, as the record will hold them.
    public var network: SpaceNetworkStatus
    /// Whether the space is dual-stack (its own `ipv6`, or its realm's).
    public var dualStack: Bool
    /// `--force-regenerate-cni`: rewrite what is canonical in another form.
    public var regenerate: Bool
    /// The text at the conflist's path, read once for the network's resolution (nil: no file).
    public var conflistOnDisk: String?

    public var id: SpaceID { manifest.id }
}

/// A space about to be deleted, as its parts take it down: its record, the pass's inventory,
/// what is still attached to its network, and whether the delete cascades.
public struct DoomedSpace: Sendable {
    public var record: SpaceRecord
    public var inventory: Inventory
    public var cascade: Bool
    /// Ports of its bridge and containers a CNI runtime attached (nil: it has no network).
    public var attached: Deleter.Attached?
    /// Its conflist's text (or the copy beside its record), for DEL and the leases' directories.
    public var conflistText: String?

    public var id: SpaceID { record.id }
}

/// A change a part carries out itself, when none of the drivers' verbs (`Change.Operation`)
/// says it: equal when its `key` is.
public struct PartAction: Sendable, Equatable, CustomStringConvertible {
    /// What the action does, to what: two actions with one key are the same action.
    public var key: String
    public var run: @Sendable (HostDrivers) throws(HostError) -> Void

    public init(_ key: String, run: @escaping @Sendable (HostDrivers) throws(HostError) -> Void) {
        self.key = key
        self.run = run
    }

    public static func == (lhs: PartAction, rhs: PartAction) -> Bool { lhs.key == rhs.key }
    public var description: String { key }
}

/// The parts kuke keeps.
public enum SpaceParts {
    /// cgroup → conflist → bridge: the order a runtime needs them in (the bridge last, since a
    /// runtime attaching to it needs the conflist naming it), and the reverse for a delete.
    public static let standard: [any SpacePart] = [CgroupPart(), ConflistPart(), BridgePart()]

    /// `parts` in phase order (stable for equal phases).
    static func ordered(_ parts: [any SpacePart]) -> [any SpacePart] {
        parts.enumerated().sorted { ($0.element.phase, $0.offset) < ($1.element.phase, $1.offset) }.map(\.element)
    }
}
