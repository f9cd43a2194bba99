import KukeModel
import SystemPackage

/// What a pass did to one resource.
public enum Outcome: String, Sendable, CaseIterable {
    case created
    case updated
    case unchanged
    case deleted
    case failed
    /// Not applied: its `spec.hostSelector`, or its realm's, does not select this host.
    case skipped
    /// Not touched: the space is suspended (`kuke suspend`), with the reason in `note`.
    case suspended

    /// Whether the host was (or, in a dry run, would be) changed.
    public var changesHost: Bool { self == .created || self == .updated || self == .deleted }
}

/// Why a resource failed: a stable reason (`RealmNotFound`), a message for humans, and, when a
/// system call failed, its errno.
public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: FailureReason
    public var message: String
    /// The errno of the host failure behind it, kept from its `HostError`.
    public var errno: Errno?
    /// What fixes it, when a command or setting does; `message` is what happened, and a
    /// `HintWording` puts the two together (`HintWording.text(_:)`).
    public var hint: Hint?

    public init(_ reason: FailureReason, _ message: String, hint: Hint? = nil, errno: Errno? = nil) {
        self.reason = reason
        self.message = message
        self.hint = hint
        self.errno = errno
    }

    public var description: String { "\(reason): \(message)" }

    public static func host(_ reason: FailureReason, _ error: HostError) -> Failure {
        Failure(reason, error.message, hint: error.hint, errno: error.errno)
    }

    /// The errnos no retry gets past: the permission, the file system or the kernel must change first.
    static let permanentErrnos: Set<Errno> = [.permissionDenied, .notPermitted, .readOnlyFileSystem, .addressFamilyNotSupported]

    /// Whether retrying can help by itself: the reason's persistence, except that a host failure
    /// refused for permission (`EACCES`, `EPERM`) or a read-only file system (`EROFS`, a unit's
    /// `ReadWritePaths=` missing a path), or for a family the kernel lacks (`EAFNOSUPPORT`: IPv6
    /// booted off) is permanent whatever its reason.
    public var persistence: FailurePersistence {
        if let errno, Self.permanentErrnos.contains(errno) { return .permanent }
        return reason.persistence
    }
}

/// The result of one resource in a pass.
public struct ResourceOutcome: Sendable, Equatable {
    public var kind: ResourceKind
    /// The realm of a space; nil for a realm.
    public var realm: String?
    public var name: String
    public var outcome: Outcome
    /// The changes made (or, in a dry run or diff, that would be made).
    public var changes: [Change]
    public var failure: Failure?
    /// Why a resource was skipped or left suspended.
    public var note: String?
    /// What the operator should know and fix that did not make the resource fail (a `kuke-*`
    /// bridge no record describes, on the table's outcome).
    public var warnings: [String] = []

    public init(kind: ResourceKind, realm: String?, name: String, outcome: Outcome, changes: [Change] = [], failure: Failure? = nil) {
        self.kind = kind
        self.realm = realm
        self.name = name
        self.outcome = outcome
        self.changes = changes
        self.failure = failure
    }

    /// `main/blog` for a space, `main` for a realm.
    public var displayName: String { realm.map { "\($0)/\(name)" } ?? name }
}
