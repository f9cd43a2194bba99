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

/// `spec` of a Space. Fields kuke does not act on yet are kept verbatim and round-trip.
public struct SpaceSpec: Sendable, Equatable {
    public var realmId: String
    /// Directory of the space's conflist; nil means the host's default CNI directory.
    public var cniConfigPath: String?
    /// `spec.network` (egress policy), stored as written.
    public var network: ManifestValue?
    /// `spec.defaults` (container defaults), stored as written.
    public var defaults: ManifestValue?
    /// `spec.resources` (the space cgroup's limits, see `ResourceLimits`), stored as written.
    public var resources: ManifestValue?
    /// `spec.hostSelector` (which hosts apply the space, see `HostSelector`), stored as written.
    public var hostSelector: ManifestValue?

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
    }
}

/// `spec` of a Realm, stored as written.
public struct RealmSpec: Sendable, Equatable {
    /// The containerd namespace upstream Kukeon uses for the realm.
    public var namespace: String?
    public var registryCredentials: ManifestValue?
    /// `spec.resources` (the realm cgroup's limits, for all its spaces), stored as written.
    public var resources: ManifestValue?
    /// `spec.hostSelector` (which hosts apply the realm and its spaces), stored as written.
    public var hostSelector: ManifestValue?
    /// `spec.network` (`ipv6`: the default of its spaces), stored as written.
    public var network: ManifestValue?

    public init(
        namespace: String? = nil, registryCredentials: ManifestValue? = nil, resources: ManifestValue? = nil, hostSelector: ManifestValue? = nil,
        network: ManifestValue? = nil
    ) {
        self.network = network
        self.hostSelector = hostSelector
        self.namespace = namespace
        self.registryCredentials = registryCredentials
        self.resources = resources
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
        if case .boolean(let own)? = network?["ipv6"] { return own }
        if case .boolean(let inherited)? = realm?.network?["ipv6"] { return inherited }
        return false
    }
}
