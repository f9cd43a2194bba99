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
