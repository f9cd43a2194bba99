/// Where kuke keeps and makes things on a host: one value, built from flags and
/// environment, from which every path is derived.
public struct HostLayout: Sendable, Equatable {
    public static let defaultRunPath = "/opt/kukeon"
    public static let defaultCNIConfigDirectory = "/etc/cni/net.d"
    public static let defaultSubnetPool = IPv4Subnet("10.88.0.0/16")!
    /// Where CNI runtimes keep their state: libcni's result cache (`results/`) and host-local's leases (`networks/`).
    public static let defaultCNIStateDirectory = "/var/lib/cni"
    /// Where the CNI plugins are looked for when `CNI_PATH` is not set: upstream's place, then Debian's.
    public static let defaultCNIPluginDirectories = ["/opt/cni/bin", "/usr/lib/cni"]
    /// The directory under the cgroup root that holds every realm.
    public static let cgroupSubtree = "kukeon"

    /// Metadata: `<runPath>/<realm>/realm.yaml`, `<runPath>/<realm>/<space>/space.yaml`.
    public var runPath: String
    /// The CNI directory used when a space sets no `spec.cniConfigPath`.
    public var cniConfigDirectory: String
    /// A directory inside a cgroup2 filesystem (its mount point on a normal host).
    public var cgroupRoot: String
    public var subnetPool: IPv4Subnet
    /// CNI runtimes' state (`results/` cache, `networks/` leases), read and cleaned when a space is deleted.
    public var cniStateDirectory: String
    /// The directories searched for CNI plugins (`CNI_PATH`), for DEL when detaching.
    public var cniPluginDirectories: [String]
    /// Who makes the realm and space cgroups: kuke in the cgroup2 filesystem, or systemd as slices.
    public var cgroupDriver: CgroupDriver = .cgroupfs
    /// The pool of dual-stack spaces' /64s; nil: the host's own unique local /48, derived from
    /// its machine ID (`machineIDPath`, see `IPv6Pool`).
    public var ipv6Pool: IPv6Subnet?
    /// systemd's machine ID, a random 128-bit value made once per installation.
    public var machineIDPath = "/etc/machine-id"
    /// The kernel's boot ID, recorded in status (`bootId`) so a record from before a reboot is
    /// told apart.
    public var bootIDPath = "/proc/sys/kernel/random/boot_id"

    public init(
        runPath: String, cniConfigDirectory: String, cgroupRoot: String, subnetPool: IPv4Subnet,
        cniStateDirectory: String = HostLayout.defaultCNIStateDirectory, cniPluginDirectories: [String] = HostLayout.defaultCNIPluginDirectories
    ) {
        self.runPath = Self.trimmed(runPath)
        self.cniConfigDirectory = Self.trimmed(cniConfigDirectory)
        self.cgroupRoot = Self.trimmed(cgroupRoot)
        self.subnetPool = subnetPool
        self.cniStateDirectory = Self.trimmed(cniStateDirectory)
        self.cniPluginDirectories = cniPluginDirectories
    }

    /// host-local's lease directory for `network`, under `dataDir` (the conflist's `ipam.dataDir`) or the default.
    public func leaseDirectory(_ network: String, dataDir: String? = nil) -> String {
        "\(dataDir.map(Self.trimmed) ?? "\(cniStateDirectory)/networks")/\(network)"
    }

    static func trimmed(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    public var lockPath: String { "\(runPath)/.kuke.lock" }
    /// What kuke recorded after its last write of the isolation table (`FirewallDigest`).
    public var firewallDigestPath: String { "\(runPath)/.kuke.table" }

    /// `.<name>.kuke-tmp`: where an atomic write of `name` stages its text; an interrupted
    /// write leaves this one name behind, which the next pass removes.
    public static func temporaryName(of name: String) -> String { ".\(name).kuke-tmp" }
    public static func temporaryPath(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return temporaryName(of: path) }
        return String(path[...slash]) + temporaryName(of: String(path[path.index(after: slash)...]))
    }
    public func realmDirectory(_ realm: String) -> String { "\(runPath)/\(realm)" }
    public func realmRecordPath(_ realm: String) -> String { "\(runPath)/\(realm)/realm.yaml" }
    public func spaceDirectory(_ id: SpaceID) -> String { "\(runPath)/\(id.realm)/\(id.name)" }
    public func spaceRecordPath(_ id: SpaceID) -> String { "\(spaceDirectory(id))/space.yaml" }
    /// The copy of the conflist kept beside `space.yaml`.
    public func conflistCopyPath(_ id: SpaceID) -> String { "\(spaceDirectory(id))/network.conflist" }

    /// `<dir>/<realm>-<space>.conflist`, with `dir` from the spec or the host default.
    public func conflistPath(_ id: SpaceID, cniConfigPath: String?) -> String {
        "\(cniConfigPath ?? cniConfigDirectory)/\(id.networkName).conflist"
    }

    /// `<root>/kukeon`, or under the systemd driver `<root>/kukeon.slice`.
    public var kukeonCgroup: String {
        "\(cgroupRoot)/\(cgroupDriver == .systemd ? SliceName.top : Self.cgroupSubtree)"
    }
    /// `<root>/kukeon/<realm>`, or `<root>/kukeon.slice/kukeon-<realm>.slice`.
    public func realmCgroup(_ realm: String) -> String {
        "\(kukeonCgroup)/\(cgroupDriver == .systemd ? SliceName.realm(realm) : realm)"
    }
    /// `<root>/kukeon/<realm>/<space>`, or `<root>/kukeon.slice/kukeon-<realm>.slice/kukeon-<realm>-<space>.slice`.
    public func spaceCgroup(_ id: SpaceID) -> String {
        cgroupDriver == .systemd ? "\(realmCgroup(id.realm))/\(SliceName.space(id))" : "\(kukeonCgroup)/\(id.realm)/\(id.name)"
    }
    /// The systemd unit of a realm's cgroup under the systemd driver, nil under cgroupfs.
    public func realmSlice(_ realm: String) -> String? { cgroupDriver == .systemd ? SliceName.realm(realm) : nil }
    /// The systemd unit of a space's cgroup under the systemd driver, nil under cgroupfs.
    public func spaceSlice(_ id: SpaceID) -> String? { cgroupDriver == .systemd ? SliceName.space(id) : nil }
}
