/// Why a resource failed: one vocabulary for the whole tool. The raw value is what records
/// (`status.reason`), `-o json` and the docs use, and what scripts match on, so it never changes;
/// every case has a row in docs/troubleshooting.md (a test checks it).
public enum FailureReason: String, Sendable, CaseIterable, CustomStringConvertible {
    case alreadyExists = "AlreadyExists"
    case bridgeConflict = "BridgeConflict"
    case bridgeFailed = "BridgeFailed"
    case bridgeNameInvalid = "BridgeNameInvalid"
    case cgroupBusy = "CgroupBusy"
    case cgroupFailed = "CgroupFailed"
    case cgroupMoved = "CgroupMoved"
    case cgroupRootInvalid = "CgroupRootInvalid"
    case childFailed = "ChildFailed"
    case conflistConflict = "ConflistConflict"
    case conflistReadFailed = "ConflistReadFailed"
    case conflistWriteFailed = "ConflistWriteFailed"
    case controllerUnavailable = "ControllerUnavailable"
    case egressHostUnresolved = "EgressHostUnresolved"
    case firewallFailed = "FirewallFailed"
    case firewallOwnedElsewhere = "FirewallOwnedElsewhere"
    case foreignFiles = "ForeignFiles"
    case hasChildren = "HasChildren"
    case hostFailed = "HostFailed"
    case metadataWriteFailed = "MetadataWriteFailed"
    case nameConflict = "NameConflict"
    case nameserversUnavailable = "NameserversUnavailable"
    case notFound = "NotFound"
    case realmNotFound = "RealmNotFound"
    case recordUnreadable = "RecordUnreadable"
    case spaceInUse = "SpaceInUse"
    case subnetConflict = "SubnetConflict"
    case subnetPoolExhausted = "SubnetPoolExhausted"
    case suspended = "Suspended"

    public var description: String { rawValue }
}

/// Whether trying again can help without anyone changing anything.
public enum FailurePersistence: String, Sendable, CaseIterable {
    /// Something on the host is in the way for now (a busy cgroup, a resolver outage, another
    /// kuke's lock, a write that failed): `kuke watch` retries with backoff.
    case transient
    /// Only a change fixes it: to the manifests (a name, a realm declared, a conflict removed)
    /// or to the host by its operator (a foreign conflist moved, a controller delegated).
    /// `kuke watch` tries again when the resource's manifest changes, at each resync and on
    /// SIGHUP, not on a backoff timer.
    case permanent
}

extension FailureReason {
    /// How a failure of this reason is retried (`Failure.persistence` refines it by errno).
    public var persistence: FailurePersistence {
        switch self {
        case .bridgeFailed, .cgroupBusy, .cgroupFailed, .childFailed, .conflistReadFailed, .conflistWriteFailed, .egressHostUnresolved,
            .firewallFailed, .hostFailed, .metadataWriteFailed, .nameserversUnavailable, .recordUnreadable, .spaceInUse:
            .transient
        case .alreadyExists, .bridgeConflict, .bridgeNameInvalid, .cgroupMoved, .cgroupRootInvalid, .conflistConflict, .controllerUnavailable,
            .firewallOwnedElsewhere, .foreignFiles, .hasChildren, .nameConflict, .notFound, .realmNotFound, .subnetConflict,
            .subnetPoolExhausted, .suspended:
            .permanent
        }
    }
}
