import ArgumentParser
import Glibc
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

    @Option(
        name: .customLong("cgroup-driver"),
        help:
            "Who makes realm and space cgroups: cgroupfs (kuke, in the cgroup2 filesystem) or systemd (slices) (env KUKEON_CGROUP_DRIVER; default cgroupfs)."
    )
    var cgroupDriver: String?

    @Option(
        name: .customLong("ipv6-pool"),
        help:
            "IPv6 pool carved into one /64 per dual-stack space (env KUKEON_IPV6_POOL; default: this host's unique local /48, from /etc/machine-id)."
    )
    var ipv6Pool: String?

    @Option(
        name: .customLong("config"),
        help: "Host configuration: labels and these settings (env KUKEON_CONFIG; default /etc/kukeon/kuke.yaml, when it exists).")
    var configPath: String?

    static let defaultConfigPath = "/etc/kukeon/kuke.yaml"

    /// Checked while parsing, so a bad flag or variable is reported with the subcommand's usage.
    /// A bad host configuration file is reported when the command runs, with its positions.
    func validate() throws {
        do { _ = try layout(Console.current) } catch is HostConfigError {}
    }

    /// A setting's value and where it came from (`--run-path`, `KUKEON_RUN_PATH`, `FILE:LINE:COLUMN`, `default`).
    struct Effective {
        var value: String
        var source: String
    }

    /// The host configuration file in effect: the one named (which must exist), or the default
    /// one when it exists. An invalid file stops the command (exit 2) with every problem.
    func config(_ console: Console) throws -> (path: String?, config: HostConfig) {
        let named = configPath ?? console.environment["KUKEON_CONFIG"]
        let path = named ?? Self.defaultConfigPath
        if named == nil {
            // Only a default file that does not exist at all means "no configuration": a dangling
            // link (a file system not mounted yet) or an unreadable directory is an error, never
            // a host without its labels (which would deselect, and prune, what they select).
            var info = stat()
            if lstat(path, &info) != 0 {
                if errno == ENOENT { return (nil, HostConfig()) }
                throw HostConfigError(lines: ["error: host configuration \(path): \(String(cString: strerror(errno)))"])
            }
        }
        let text: String
        switch LocalManifestSource().read(path, limit: 1 << 20) {
        case .success(let bytes): text = String(decoding: bytes, as: UTF8.self)
        case .failure(let problem):
            throw HostConfigError(lines: ["error: host configuration \(path): \(problem.message)"])
        }
        switch HostConfig.decode(text, file: path) {
        case .success(let config): return (path, config)
        case .failure(let issues):
            throw HostConfigError(lines: issues.issues.map(\.description) + ["error: the host configuration \(path) is invalid; nothing was changed"])
        }
    }

    /// Each layout setting with its source: flag > environment > host configuration > default.
    func effective(_ console: Console, file: HostConfig) -> [(name: String, Effective)] {
        let environment = console.environment
        func pick(_ flag: String?, _ flagName: String, _ variable: String, _ key: String, _ fallback: () -> String) -> Effective {
            if let flag { return Effective(value: flag, source: flagName) }
            if let value = environment[variable] { return Effective(value: value, source: variable) }
            if let setting = file.layout[key] { return Effective(value: setting.value, source: setting.position.description) }
            return Effective(value: fallback(), source: "default")
        }
        return [
            ("run-path", pick(runPath, "--run-path", "KUKEON_RUN_PATH", "runPath") { HostLayout.defaultRunPath }),
            (
                "cni-config-dir",
                pick(cniConfigDirectory, "--cni-config-dir", "KUKEON_CNI_CONFIG_DIR", "cniConfigDir") { HostLayout.defaultCNIConfigDirectory }
            ),
            (
                "cgroup-root",
                pick(cgroupRoot, "--cgroup-root", "KUKEON_CGROUP_ROOT", "cgroupRoot") { CgroupFilesystem.discoverMount() ?? "/sys/fs/cgroup" }
            ),
            ("subnet-pool", pick(subnetPool, "--subnet-pool", "KUKEON_SUBNET_POOL", "subnetPool") { HostLayout.defaultSubnetPool.description }),
            (
                "cni-state-dir",
                pick(cniStateDirectory, "--cni-state-dir", "KUKEON_CNI_STATE_DIR", "cniStateDir") { HostLayout.defaultCNIStateDirectory }
            ),
            ("cgroup-driver", pick(cgroupDriver, "--cgroup-driver", "KUKEON_CGROUP_DRIVER", "cgroupDriver") { CgroupDriver.default.rawValue }),
            ("ipv6-pool", pick(ipv6Pool, "--ipv6-pool", "KUKEON_IPV6_POOL", "ipv6Pool") { "machine-id" }),
        ]
    }

    /// This host's labels with their sources: the built-in `kukeon.io/*` ones, then the
    /// configuration's (which may override them).
    static func labels(file: HostConfig) -> [(key: String, value: String, source: String)] {
        var labels: [String: (String, String)] = [:]
        for (key, value) in HostIdentity.builtinLabels() { labels[key] = (value, "built-in") }
        for (key, setting) in file.labels { labels[key] = (setting.value, setting.position.description) }
        return labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value.0, $0.value.1) }
    }

    /// The layout and this host's labels (for `ApplyOptions.hostLabels`), the file read once.
    func settings(_ console: Console) throws -> (layout: HostLayout, labels: [String: String]) {
        let file = try config(console).config
        return (try layout(console, file: file), Dictionary(uniqueKeysWithValues: Self.labels(file: file).map { ($0.key, $0.value) }))
    }

    /// The layout, or a usage error naming the flag, variable or file position at fault.
    func layout(_ console: Console) throws -> HostLayout { try layout(console, file: config(console).config) }

    func layout(_ console: Console, file: HostConfig) throws -> HostLayout {
        let settings = Dictionary(uniqueKeysWithValues: effective(console, file: file).map { ($0.name, $0.1) })
        let run = settings["run-path"]!
        let cni = settings["cni-config-dir"]!
        let cgroup = settings["cgroup-root"]!
        let poolSetting = settings["subnet-pool"]!
        let state = settings["cni-state-dir"]!
        let driverSetting = settings["cgroup-driver"]!
        let ipv6Setting = settings["ipv6-pool"]!
        var ipv6Pool: IPv6Subnet?
        if ipv6Setting.source != "default" {
            if let problem = IPv6Pool.problem(ipv6Setting.value) { throw ValidationError("\(ipv6Setting.source) \(problem)") }
            ipv6Pool = IPv6Subnet(ipv6Setting.value)
        }
        guard let driver = CgroupDriver(rawValue: driverSetting.value) else {
            throw ValidationError("\(driverSetting.source) \(CgroupDriver.problem(driverSetting.value) ?? "")")
        }
        guard let pool = IPv4Subnet(poolSetting.value) else {
            throw ValidationError("\(poolSetting.source) \"\(poolSetting.value)\" is not an IPv4 network in CIDR form (like 10.88.0.0/16)")
        }
        if let problem = SubnetAllocator.violation(of: pool) { throw ValidationError("\(poolSetting.source): \(problem)") }
        for setting in [run, cni, cgroup, state] where !setting.value.hasPrefix("/") {
            throw ValidationError("\(setting.source) \"\(setting.value)\" must be an absolute path")
        }
        // CNI_PATH, as every CNI runtime reads it.
        let environment = console.environment
        let plugins = environment["CNI_PATH"].map { $0.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") } } ?? []
        var layout = HostLayout(
            runPath: run.value, cniConfigDirectory: cni.value, cgroupRoot: cgroup.value, subnetPool: pool, cniStateDirectory: state.value,
            cniPluginDirectories: plugins.isEmpty ? HostLayout.defaultCNIPluginDirectories : plugins)
        layout.cgroupDriver = driver
        layout.ipv6Pool = ipv6Pool
        return layout
    }
}

/// `--lock-timeout`, for the commands that change the host and so take the host lock.
struct LockOptions: ParsableArguments {
    @Option(
        name: .customLong("lock-timeout"), parsing: .unconditional, help: "Seconds to wait for another kuke to release the host lock (default: wait)."
    )
    var lockTimeout: Double?

    func validate() throws {
        if let lockTimeout, !(lockTimeout >= 0 && lockTimeout.isFinite) {
            throw ValidationError("--lock-timeout must be a number of seconds, 0 or more")
        }
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

/// A host configuration file that cannot be read or is invalid: every command stops (exit 2)
/// with these lines, each problem at its FILE:LINE:COLUMN.
struct HostConfigError: Error {
    var lines: [String]
}
