import ArgumentParser
import KukeHost
import KukeModel

/// The host layout flags every command shares; each falls back to its environment
/// variable, then to the default.
struct HostOptions: ParsableArguments {
    @Option(name: .customLong("run-path"), help: "Metadata directory (env KUKEON_RUN_PATH; default /opt/kukeon).")
    var runPath: String?

    @Option(
        name: .customLong("cni-config-dir"),
        help: "CNI directory for spaces without spec.cniConfigPath (env KUKEON_CNI_CONFIG_DIR; default /etc/cni/net.d).")
    var cniConfigDirectory: String?

    @Option(
        name: .customLong("cgroup-root"),
        help: "A directory in a cgroup2 filesystem (env KUKEON_CGROUP_ROOT; default: the cgroup2 mount in /proc/self/mountinfo).")
    var cgroupRoot: String?

    @Option(name: .customLong("subnet-pool"), help: "IPv4 pool carved into one /24 per space (env KUKEON_SUBNET_POOL; default 10.88.0.0/16).")
    var subnetPool: String?

    @Option(
        name: .customLong("cni-state-dir"),
        help: "CNI runtimes' state: libcni's results/ cache and host-local's networks/ leases (env KUKEON_CNI_STATE_DIR; default /var/lib/cni).")
    var cniStateDirectory: String?

    /// Checked while parsing, so a bad flag or variable is reported with the subcommand's usage.
    func validate() throws { _ = try layout(Console.current) }

    /// The layout, or a usage error naming the flag or variable at fault.
    func layout(_ console: Console) throws -> HostLayout {
        let environment = console.environment
        let run = runPath ?? environment["KUKEON_RUN_PATH"] ?? HostLayout.defaultRunPath
        let cni = cniConfigDirectory ?? environment["KUKEON_CNI_CONFIG_DIR"] ?? HostLayout.defaultCNIConfigDirectory
        let cgroup = cgroupRoot ?? environment["KUKEON_CGROUP_ROOT"] ?? CgroupFilesystem.discoverMount() ?? "/sys/fs/cgroup"
        let poolText = subnetPool ?? environment["KUKEON_SUBNET_POOL"]
        var pool = HostLayout.defaultSubnetPool
        if let poolText {
            guard let parsed = IPv4Subnet(poolText) else {
                throw ValidationError("--subnet-pool/KUKEON_SUBNET_POOL \"\(poolText)\" is not an IPv4 network in CIDR form (like 10.88.0.0/16)")
            }
            if let problem = SubnetAllocator.violation(of: parsed) { throw ValidationError(problem) }
            pool = parsed
        }
        let state = cniStateDirectory ?? environment["KUKEON_CNI_STATE_DIR"] ?? HostLayout.defaultCNIStateDirectory
        for (flag, path) in [("--run-path", run), ("--cni-config-dir", cni), ("--cgroup-root", cgroup), ("--cni-state-dir", state)]
        where !path.hasPrefix("/") {
            throw ValidationError("\(flag) \"\(path)\" must be an absolute path")
        }
        // CNI_PATH, as every CNI runtime reads it.
        let plugins = environment["CNI_PATH"].map { $0.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") } } ?? []
        return HostLayout(
            runPath: run, cniConfigDirectory: cni, cgroupRoot: cgroup, subnetPool: pool, cniStateDirectory: state,
            cniPluginDirectories: plugins.isEmpty ? HostLayout.defaultCNIPluginDirectories : plugins)
    }
}

/// `--lock-timeout`, for the commands that change the host and so take the host lock.
struct LockOptions: ParsableArguments {
    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for another kuke to release the host lock (default: wait).")
    var lockTimeout: Double?

    func validate() throws {
        if let lockTimeout, lockTimeout < 0 { throw ValidationError("--lock-timeout must not be negative") }
    }
}

/// `-o` for commands that print results.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json
    case yaml
}

/// `-o` for `kuke get spaces`: the stored documents, or the table with more columns.
enum SpacesOutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json
    case yaml
    case wide
    case name

    var documents: OutputFormat? { OutputFormat(rawValue: rawValue) }
}

/// `-o` for `kuke get realms`: the stored documents, or `realm/NAME` per line.
enum RealmsOutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json
    case yaml
    case name

    var documents: OutputFormat? { OutputFormat(rawValue: rawValue) }
}
