/// `metadata` of a Realm or Space.
public struct ObjectMeta: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    /// Server-managed: accepted on input, set by kuke (1 on create, +1 per spec change).
    public var generation: Int64?

    public init(name: String, labels: [String: String] = [:], generation: Int64? = nil) {
        self.name = name
        self.labels = labels
        self.generation = generation
    }
}

/// `spec` of a Space. Each field kuke acts on is read once, when the spec is made (decoded from
/// a manifest or a record) or the field is set, into a typed value (`egress`, `limits`,
/// `selector`, `ipv6`) that every reader uses; the tree as written is kept beside it, so a
/// record round-trips byte for byte. Fields kuke does not act on yet are kept verbatim.
public struct SpaceSpec: Sendable, Equatable {
    public var realmId: String
    /// Directory of the space's conflist; nil means the host's default CNI directory.
    public var cniConfigPath: String?
    /// `spec.network` (egress policy, `ipv6`), stored as written.
    public var network: ManifestValue? { didSet { (egress, ipv6) = Self.read(network: network) } }
    /// `spec.defaults` (container defaults), stored as written.
    public var defaults: ManifestValue?
    /// `spec.resources` (the space cgroup's limits), stored as written.
    public var resources: ManifestValue? { didSet { limits = ResourceLimits(resources) } }
    /// `spec.hostSelector` (which hosts apply the space), stored as written.
    public var hostSelector: ManifestValue? { didSet { selector = HostSelector(hostSelector) } }

    /// `spec.network.egress` as enforced: nil when egress is open.
    public private(set) var egress: EgressPolicy?
    /// `spec.network.ipv6`: nil when the space leaves it to its realm.
    public private(set) var ipv6: Bool?
    /// `spec.resources` as the cgroup's files take it.
    public private(set) var limits: ResourceLimits
    /// `spec.hostSelector`, nil when it selects every host.
    public private(set) var selector: HostSelector?

    public init(
        realmId: String, cniConfigPath: String? = nil, network: ManifestValue? = nil, defaults: ManifestValue? = nil,
        resources: ManifestValue? = nil, hostSelector: ManifestValue? = nil
    ) {
        self.hostSelector = hostSelector
        self.realmId = realmId
        self.cniConfigPath = cniConfigPath
        self.network = network
        self.defaults = defaults
        self.resources = resources
        (egress, ipv6) = Self.read(network: network)
        limits = ResourceLimits(resources)
        selector = HostSelector(hostSelector)
    }

    static func read(network: ManifestValue?) -> (EgressPolicy?, Bool?) {
        let ipv6: Bool? = if case .boolean(let value)? = network?["ipv6"] { value } else { nil }
        return (EgressPolicy(network: network), ipv6)
    }

    /// Equal when the trees as written are: the typed values are read from them.
    public static func == (a: SpaceSpec, b: SpaceSpec) -> Bool {
        a.realmId == b.realmId && a.cniConfigPath == b.cniConfigPath && a.network == b.network && a.defaults == b.defaults
            && a.resources == b.resources && a.hostSelector == b.hostSelector
    }
}

/// `spec` of a Realm, stored as written; what kuke acts on is read once into typed values, as
/// for `SpaceSpec`.
public struct RealmSpec: Sendable, Equatable {
    /// The containerd namespace upstream Kukeon uses for the realm.
    public var namespace: String?
    public var registryCredentials: ManifestValue?
    /// `spec.resources` (the realm cgroup's limits, for all its spaces), stored as written.
    public var resources: ManifestValue? { didSet { limits = ResourceLimits(resources) } }
    /// `spec.hostSelector` (which hosts apply the realm and its spaces), stored as written.
    public var hostSelector: ManifestValue? { didSet { selector = HostSelector(hostSelector) } }
    /// `spec.network` (`ipv6`: the default of its spaces), stored as written.
    public var network: ManifestValue? { didSet { ipv6 = SpaceSpec.read(network: network).1 } }

    /// `spec.resources` as the realm cgroup's files take it.
    public private(set) var limits: ResourceLimits
    /// `spec.hostSelector`, nil when it selects every host.
    public private(set) var selector: HostSelector?
    /// `spec.network.ipv6`: the default of its spaces, nil when it sets none.
    public private(set) var ipv6: Bool?

    public init(
        namespace: String? = nil, registryCredentials: ManifestValue? = nil, resources: ManifestValue? = nil, hostSelector: ManifestValue? = nil,
        network: ManifestValue? = nil
    ) {
        self.network = network
        self.hostSelector = hostSelector
        self.namespace = namespace
        self.registryCredentials = registryCredentials
        self.resources = resources
        limits = ResourceLimits(resources)
        selector = HostSelector(hostSelector)
        ipv6 = SpaceSpec.read(network: network).1
    }

    /// Equal when the trees as written are: the typed values are read from them.
    public static func == (a: RealmSpec, b: RealmSpec) -> Bool {
        a.namespace == b.namespace && a.registryCredentials == b.registryCredentials && a.resources == b.resources
            && a.hostSelector == b.hostSelector && a.network == b.network
    }
}

/// Where a resource was declared, for error messages.
public struct ManifestOrigin: Sendable, Hashable {
    /// The start of the document.
    public var document: SourcePosition
    /// `metadata.name`'s value.
    public var name: SourcePosition
    /// False for resources made by a command (`kuke create`, `kuke init`) rather than read from a file.
    public var isFile: Bool
    /// The file's absolute path, set by whoever read it (recorded as `status.source`, so the same
    /// file named two ways is one source).
    public var absoluteFile: String?

    public init(document: SourcePosition, name: SourcePosition, isFile: Bool = true) {
        self.document = document
        self.name = name
        self.isFile = isFile
    }

    /// An origin for resources made by a command rather than read from a file.
    public static func command(_ what: String) -> ManifestOrigin {
        let position = SourcePosition(file: what, line: 1, column: 1)
        return ManifestOrigin(document: position, name: position, isFile: false)
    }
}

/// A `kind: Realm` manifest.
public struct RealmManifest: Sendable, Equatable {
    public var metadata: ObjectMeta
    public var spec: RealmSpec
    public var origin: ManifestOrigin

    public init(metadata: ObjectMeta, spec: RealmSpec = RealmSpec(), origin: ManifestOrigin) {
        self.metadata = metadata
        self.spec = spec
        self.origin = origin
    }
}

/// A `kind: Space` manifest.
public struct SpaceManifest: Sendable, Equatable {
    public var metadata: ObjectMeta
    public var spec: SpaceSpec
    public var origin: ManifestOrigin

    public init(metadata: ObjectMeta, spec: SpaceSpec, origin: ManifestOrigin) {
        self.metadata = metadata
        self.spec = spec
        self.origin = origin
    }

    public var id: SpaceID { SpaceID(realm: spec.realmId, name: metadata.name) }
}

/// One resource of a batch.
public enum Resource: Sendable, Equatable {
    case realm(RealmManifest)
    case space(SpaceManifest)

    public var kind: ResourceKind {
        switch self {
        case .realm: .realm
        case .space: .space
        }
    }

    /// `name` for a realm, `realm/name` for a space.
    public var displayName: String {
        switch self {
        case .realm(let realm): realm.metadata.name
        case .space(let space): space.id.description
        }
    }

    public var origin: ManifestOrigin {
        switch self {
        case .realm(let realm): realm.origin
        case .space(let space): space.origin
        }
    }
}

extension SpaceSpec {
    /// Whether the space is dual-stack: its `spec.network.ipv6`, or else its realm's, or else not.
    public func wantsIPv6(realm: RealmSpec?) -> Bool {
        ipv6 ?? realm?.ipv6 ?? false
    }
}
