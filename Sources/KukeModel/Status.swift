import Foundation

/// The lifecycle state of a space, as stored in `status.state`.
public enum SpaceState: String, Sendable, CaseIterable {
    case pending = "Pending"
    case ready = "Ready"
    case failed = "Failed"
    case deleting = "Deleting"
}

/// The network a space owns, recorded at creation and read back, never recomputed.
public struct SpaceNetworkStatus: Sendable, Equatable {
    /// `<realm>-<space>`, the CNI network name.
    public var name: String
    public var bridge: String
    public var subnet: IPv4Subnet
    /// The space's /64 when it is dual-stack (`spec.network.ipv6`), nil when IPv4-only.
    public var ipv6Subnet: IPv6Subnet?
    public var conflistPath: String

    public init(name: String, bridge: String, subnet: IPv4Subnet, ipv6Subnet: IPv6Subnet? = nil, conflistPath: String) {
        self.name = name
        self.bridge = bridge
        self.subnet = subnet
        self.ipv6Subnet = ipv6Subnet
        self.conflistPath = conflistPath
    }
}

/// `status` of a space in `space.yaml`.
public struct SpaceStatus: Sendable, Equatable {
    public var state: SpaceState
    /// Why it failed (the record keeps the reason's text, `ControllerUnavailable`).
    public var reason: FailureReason?
    public var message: String?
    public var cgroupPath: String?
    /// The space's slice unit under the systemd cgroup driver (`kukeon-main-blog.slice`), nil under cgroupfs.
    public var slice: String?
    public var cgroupReady: Bool
    public var subtreeControllers: [String]
    public var network: SpaceNetworkStatus?
    public var createdAt: Date?
    public var updatedAt: Date?
    public var readyAt: Date?
    public var observedGeneration: Int64?
    /// Set once, at creation, by `kuke watch`: the watcher that created the space. Only that
    /// watcher may prune it. Status is never read from manifests, so no one can copy it.
    public var managedBy: String?
    /// The manifest file the space was last applied from.
    public var source: String?
    /// What the egress hosts resolved to (only for a `default: deny` policy with `host` rules).
    public var egress: EgressStatus?
    /// The cgroup interface files kuke wrote from `spec.resources`, and their values: the files
    /// kuke owns (drift is repaired, a field removed from the manifest resets its file), as
    /// opposed to those an operator wrote by hand, which kuke never touches.
    public var resources: [String: String]?
    /// Set by `kuke suspend`: neither apply nor watch changes, repairs or prunes the space until `kuke resume`.
    public var suspended: Suspension?
    /// The kernel's boot (`/proc/sys/kernel/random/boot_id`) in which a pass last wrote this status.
    /// A reboot forgets bridges, cgroups and the table while records stay: a `Ready` written in
    /// another boot says nothing of what this kernel holds (`isStale`), until a pass writes it again.
    public var bootId: String?

    public init(
        state: SpaceState = .pending, reason: FailureReason? = nil, message: String? = nil, cgroupPath: String? = nil,
        cgroupReady: Bool = false, subtreeControllers: [String] = [], network: SpaceNetworkStatus? = nil,
        createdAt: Date? = nil, updatedAt: Date? = nil, readyAt: Date? = nil, observedGeneration: Int64? = nil
    ) {
        self.state = state
        self.reason = reason
        self.message = message
        self.cgroupPath = cgroupPath
        self.cgroupReady = cgroupReady
        self.subtreeControllers = subtreeControllers
        self.network = network
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.readyAt = readyAt
        self.observedGeneration = observedGeneration
    }
}

/// `status` of a realm in `realm.yaml`.
public struct RealmStatus: Sendable, Equatable {
    public var state: SpaceState
    /// Why it failed (the record keeps the reason's text, `ControllerUnavailable`).
    public var reason: FailureReason?
    public var message: String?
    public var cgroupPath: String?
    /// The realm's slice unit under the systemd cgroup driver (`kukeon-main.slice`), nil under cgroupfs.
    public var slice: String?
    /// The cgroup interface files kuke wrote from the realm's `spec.resources` (see `SpaceStatus.resources`).
    public var resources: [String: String]?
    public var createdAt: Date?
    public var updatedAt: Date?
    /// The boot in which a pass last wrote this status (see `SpaceStatus.bootId`).
    public var bootId: String?

    public init(state: SpaceState = .ready, cgroupPath: String? = nil, createdAt: Date? = nil, updatedAt: Date? = nil) {
        self.state = state
        self.cgroupPath = cgroupPath
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What `space.yaml` holds: the applied manifest and its status.
public struct SpaceRecord: Sendable, Equatable {
    public var metadata: ObjectMeta
    public var spec: SpaceSpec
    public var status: SpaceStatus

    public init(metadata: ObjectMeta, spec: SpaceSpec, status: SpaceStatus) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public var id: SpaceID { SpaceID(realm: spec.realmId, name: metadata.name) }
}

/// What `realm.yaml` holds.
public struct RealmRecord: Sendable, Equatable {
    public var metadata: ObjectMeta
    public var spec: RealmSpec
    public var status: RealmStatus

    public init(metadata: ObjectMeta, spec: RealmSpec, status: RealmStatus) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// Why and since when a space is suspended (`status.suspended` of its record).
public struct Suspension: Sendable, Equatable {
    public var reason: String
    public var since: Date?

    public init(reason: String, since: Date?) {
        self.reason = reason
        self.since = since
    }
}

/// Whether a record's `Ready` is about this boot's kernel.
public enum BootFreshness {
    /// `Stale`: the state shown for a `Ready` record written in another boot than `currentBoot`
    /// (a record without a boot, from before kuke kept one, or a host whose boot is unknown, is
    /// taken at its word).
    public static func shownState(_ state: SpaceState, recordBoot: String?, currentBoot: String?) -> String {
        isStale(state, recordBoot: recordBoot, currentBoot: currentBoot) ? "Stale" : state.rawValue
    }

    public static func isStale(_ state: SpaceState, recordBoot: String?, currentBoot: String?) -> Bool {
        guard state == .ready, let recordBoot, let currentBoot else { return false }
        return recordBoot != currentBoot
    }
}
