import KukeModel

/// Files: conflists and metadata. Writes are atomic (temp file in the same directory,
/// fsync, rename, fsync of the directory), so a crash never leaves a torn file.
public protocol FileStore: Sendable {
    /// The file's text, or nil when it does not exist.
    func read(_ path: String) throws(HostError) -> String?
    /// Replaces the file atomically, creating parent directories.
    func write(_ path: String, _ text: String, mode: UInt32) throws(HostError)
    /// Whether something (a file, directory or link, not followed) is at `path`.
    func exists(_ path: String) -> Bool
    /// What changes whenever the regular file at `path` is written or replaced (device, inode,
    /// size, modification and change times), or nil when it is not a regular file; lets a
    /// long-running process skip reading records it has already read.
    func identity(_ path: String) -> String?
    /// Removes a file; a missing file is not an error.
    func remove(_ path: String) throws(HostError)
    /// Removes a directory and everything in it; a missing directory is not an error.
    func removeTree(_ path: String) throws(HostError)
    /// Names of the subdirectories of `path` (empty when it does not exist), hidden ones left out;
    /// throws when it exists but cannot be listed (`EACCES`, `ENOTDIR`), so what is in it is never
    /// mistaken for nothing.
    func subdirectories(_ path: String) throws(HostError) -> [String]
    /// Every name in the directory `path`, hidden ones included (empty when it does not exist).
    func entries(_ path: String) -> [String]
    /// `rmdir PATH`; a missing directory is not an error, a non-empty one is.
    func removeDirectory(_ path: String) throws(HostError)
    /// Replaces several files, each atomically as `write` does, made durable together (one
    /// sync for the group instead of one per file); per file, nil or what failed. A file that
    /// failed is left as it was.
    func writeAll(_ files: [FileWrite]) -> [HostError?]
}

/// One file of a grouped write.
public struct FileWrite: Sendable, Equatable {
    public var path: String
    public var text: String
    public var mode: UInt32

    public init(path: String, text: String, mode: UInt32) {
        self.path = path
        self.text = text
        self.mode = mode
    }
}

extension FileStore {
    /// One `write` after another.
    public func writeAll(_ files: [FileWrite]) -> [HostError?] {
        files.map { file in
            do throws(HostError) {
                try write(file.path, file.text, mode: file.mode)
                return nil
            } catch {
                return error
            }
        }
    }
}

/// Links over rtnetlink.
public protocol LinkControl: Sendable {
    /// One dump of links, addresses and routes.
    func snapshot() throws(HostError) -> NetworkSnapshot
    /// IPv6 addresses and main-table routes (`ip -6 addr`, `ip -6 route`), for a dual-stack
    /// space's allocation only.
    func occupied6() throws(HostError) -> [OccupiedSubnet6]
    /// `ip link add NAME type bridge`
    func createBridge(_ name: String) throws(HostError)
    /// `ip link set NAME up`; with `ipv6`, IPv6 on the link as `enableIPv6` sets it first,
    /// otherwise IPv6 off on it (best effort: an IPv4-only bridge needs none).
    func setUp(_ name: String, ipv6: Bool) throws(HostError)
    /// IPv6 on the link without router advertisements or autoconfiguration
    /// (`LinkIPv6.dualStackBridge`): `accept_ra` and `autoconf` 0, then `disable_ipv6` 0.
    func enableIPv6(_ name: String) throws(HostError)
    /// IPv6 off on the link (`disable_ipv6` 1), which takes its IPv6 addresses with it: a space
    /// that stopped being dual-stack.
    func disableIPv6(_ name: String) throws(HostError)
    /// `ip link delete NAME`
    func delete(_ name: String) throws(HostError)
    /// Deletes every link still enslaved to the bridge `name` (for a veth, its peer goes too).
    func deletePorts(of bridge: String) throws(HostError)
    /// Deletes these links together, as cheaply as the kernel allows (rtnetlink: moved into a
    /// link group no other link uses, then that group deleted in one request). A link already
    /// gone is skipped. After a failure some may be left: each is still deleted by name after.
    func deleteAll(_ names: [String]) throws(HostError)
}

extension LinkControl {
    public func deleteAll(_ names: [String]) throws(HostError) {
        for name in names { try delete(name) }
    }
}

/// The CNI plugins, run the way a runtime runs them, to detach a container from a space.
public protocol CNIPlugins: Sendable {
    /// DEL for one attachment through every plugin of `config` (a network configuration list),
    /// in reverse order, with the cached ADD result as `prevResult`; then what the plugins leave
    /// behind without a namespace (the bridge plugin's masquerade rules for this attachment),
    /// and the cache entry is removed, as libcni does after a successful DEL.
    func delete(_ attachment: CNIAttachment, config: String) throws(HostError)
    /// Whether `attachment.netns` is still that container's network namespace: a path can be
    /// gone, or (`/proc/<pid>/ns/net`) name the namespace of a process that reused the PID.
    func checkNamespace(of attachment: CNIAttachment) -> NamespaceCheck
}

/// Directories of a cgroup2 filesystem.
public protocol CgroupControl: Sendable {
    /// Why the configured cgroup root cannot be used, or nil when it is a cgroup2 directory.
    func rootProblem() -> String?
    /// Whether processes live in the cgroup at `path` or below (`populated 1` in `cgroup.events`).
    func isPopulated(_ path: String) throws(HostError) -> Bool
    /// The state of the directory at `path`, or nil when it does not exist.
    func observe(_ path: String) throws(HostError) -> ObservedCgroup?
    /// `mkdir PATH`
    func makeDirectory(_ path: String) throws(HostError)
    /// Writes `+c` for each controller to `cgroup.subtree_control`.
    func enable(_ controllers: [String], in path: String) throws(HostError)
    /// `rmdir PATH`; fails with EBUSY while processes are in it.
    func removeDirectory(_ path: String) throws(HostError)
    /// Child cgroup directories (stacks and cells of a space).
    func children(_ path: String) throws(HostError) -> [String]
    /// The text of the interface file `name` of the cgroup at `path` (`memory.max`), or nil when
    /// it does not exist (the directory is missing, or its controller is not enabled there).
    func readFile(_ name: String, in path: String) throws(HostError) -> String?
    /// Writes `value` into the interface file `name` of the cgroup at `path` (`echo VALUE > PATH/NAME`).
    func writeFile(_ name: String, _ value: String, in path: String) throws(HostError)
    /// The huge page sizes the kernel offers, as cgroup names them (`2MB`, `1GB`), from
    /// `/sys/kernel/mm/hugepages`.
    func hugePageSizes() -> [String]
}

/// The isolation table in nftables (`table inet kukeon`), replaced whole in one transaction.
public protocol FirewallControl: Sendable {
    /// The table's fingerprint, owner and rule count, or nil when it does not exist: what every
    /// pass reads, so it costs no listing.
    func summary() throws(HostError) -> FirewallSummary?
    /// The table as it is, listed (its rules and counters besides the summary), or nil when it
    /// does not exist: for a diff, a failed write's coverage check and the drops.
    func observe() throws(HostError) -> ObservedFirewall?
    /// Replaces the table with `script` atomically (`nft -f`).
    func replace(_ script: String) throws(HostError)
}

/// Name lookups for egress `host` rules (the system resolver: `/etc/hosts`, DNS, as nsswitch
/// says), and the host's resolvers for `dns: allow`.
public protocol NameResolver: Sendable {
    /// The IPv4 addresses of `host`; throws when the lookup fails or finds none.
    func resolveIPv4(_ host: String) throws(HostError) -> [IPv4Address]
    /// The IPv6 addresses of `host` (for dual-stack spaces); throws when the lookup fails or finds none.
    func resolveIPv6(_ host: String) throws(HostError) -> [IPv6Address]
    /// The host's resolvers as a cell reaches them (`HostNameservers.read`); throws when none can be read.
    func nameservers() throws(HostError) -> HostNameservers
}

/// The host-wide lock: two kuke processes never interleave their passes.
public protocol HostLock: Sendable {
    /// Blocks until the lock is held, or throws when `timeout` (seconds) passes first.
    func acquire(timeout: Double?) throws(HostError) -> any HeldLock
}

/// A held lock, released by `release()` (and by process exit).
public protocol HeldLock: Sendable {
    func release()
}

/// The drivers' system access, bundled for the engine.
public struct HostDrivers: Sendable {
    public var files: any FileStore
    public var links: any LinkControl
    public var cgroups: any CgroupControl
    public var lock: any HostLock
    /// The isolation table's driver; nil leaves isolation unmanaged (engine tests of the other parts).
    public var firewall: (any FirewallControl)?
    public var resolver: any NameResolver
    public var plugins: any CNIPlugins

    public init(
        files: any FileStore, links: any LinkControl, cgroups: any CgroupControl, lock: any HostLock, firewall: (any FirewallControl)?,
        resolver: any NameResolver, plugins: any CNIPlugins
    ) {
        self.plugins = plugins
        self.resolver = resolver
        self.files = files
        self.links = links
        self.cgroups = cgroups
        self.lock = lock
        self.firewall = firewall
    }
}

extension LinkControl {
    /// `setUp(name, ipv6: false)`: an IPv4-only bridge.
    public func setUp(_ name: String) throws(HostError) { try setUp(name, ipv6: false) }
}
