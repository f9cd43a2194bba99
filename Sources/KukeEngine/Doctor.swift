import KukeModel

/// One row of `kuke doctor`: what was checked, how it stands, and what to do about it.
public struct DoctorCheck: Sendable, Equatable {
    public enum Status: String, Sendable, Comparable {
        case ok = "OK"
        case warn = "WARN"
        case fail = "FAIL"

        var rank: Int { self == .ok ? 0 : self == .warn ? 1 : 2 }
        public static func < (a: Status, b: Status) -> Bool { a.rank < b.rank }
    }

    /// A stable identifier (`cni-plugins`), for scripts and `-o json`.
    public var check: String
    public var status: Status
    public var detail: String
    /// The change that fixes it, by hand (nil when OK, or when a hint says it all).
    public var fix: String?
    /// The command or setting that fixes it, worded by the caller after `fix`.
    public var hint: Hint?

    public init(_ check: String, _ status: Status, _ detail: String, fix: String? = nil, hint: Hint? = nil) {
        self.check = check
        self.status = status
        self.detail = detail
        self.fix = fix
        self.hint = hint
    }

    /// `fix` and the hint in words, as one line.
    public func fix(worded hints: any HintWording) -> String? {
        let parts = [fix, hint.map(hints.words)].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }
}

/// What `kuke doctor` read off the host (KukeHost's `HostProbe` fills it in); the judgment
/// (`Doctor.checks`) is made here, without the kernel, so every verdict has a unit test.
public struct HostFacts: Sendable {
    public var layout: HostLayout

    // cgroups
    /// The cgroup2 mount found in mountinfo, nil when there is none.
    public var cgroup2Mount: String?
    /// Controllers bound to cgroup v1 mounts (a hybrid host): not available in cgroup2.
    public var v1Controllers: [String] = []
    /// Why the cgroup root cannot be used, if it cannot.
    public var cgroupRootProblem: String?
    /// The cgroup root's `cgroup.controllers` and `cgroup.subtree_control`.
    public var availableControllers: [String] = []
    public var offeredControllers: [String] = []
    /// `cgroup.type` of kuke's own cgroup (`<root>/kukeon`), nil when it does not exist yet.
    public var kukeCgroupType: String?
    /// Processes in kuke's own cgroup (not in a child): the kernel then refuses to enable controllers below it.
    public var kukeCgroupProcesses: Int = 0
    /// The controllers the recorded realms and spaces (and `-f` manifests) ask for, each with who asks.
    public var requestedControllers: [String: [String]] = [:]
    /// systemd is the init system (`/run/systemd/system` exists).
    public var underSystemd = false

    // CNI
    /// Each plugin kuke's conflists name (`bridge`, `host-local`).
    public var plugins: [Plugin] = []
    /// The `cniVersion` of each conflist kuke owns, by version.
    public var conflistVersions: [String: [String]] = [:]
    /// Network configurations kuke does not own that claim ranges inside the pool.
    public var foreignOverlaps: [ForeignClaim] = []
    /// Network configurations kuke does not own that cannot be read, each as a warning.
    public var unreadableConflists: [String] = []
    /// host-local lease directories (`<state>/networks/NAME`) that no network configuration names.
    public var leftoverLeases: [String] = []

    // network
    public var nftablesProblem: String?
    /// `net.ipv4.ip_forward` of this network namespace, nil when unreadable.
    public var ipForward: String?
    /// `net.bridge.bridge-nf-call-iptables`, nil when br_netfilter is not loaded.
    public var bridgeNetfilterCallIptables: String?
    /// systemd-networkd runs on this host.
    public var networkdRunning = false
    /// The first `.network` file networkd would apply to a kuke bridge, and whether it sets `Unmanaged=yes`.
    public var networkdMatch: (file: String, unmanaged: Bool)?

    // records
    /// Whether the run path exists, and the records it holds.
    public var runPathExists = false
    public var recordCounts = (realms: 0, spaces: 0)
    public var unreadableRecords: [String] = []
    /// `kuke-*` bridges no record names (see `Inventory.unrecordedBridges`).
    public var unrecordedBridges: [String] = []

    public struct Plugin: Sendable, Equatable {
        public var type: String
        /// The executable found on CNI_PATH, nil when missing.
        public var path: String?
        /// What its `VERSION` command answered (`supportedVersions`), or nil with `problem`.
        public var supportedVersions: [String]?
        public var problem: String?

        public init(type: String, path: String?, supportedVersions: [String]?, problem: String? = nil) {
            self.type = type
            self.path = path
            self.supportedVersions = supportedVersions
            self.problem = problem
        }
    }

    public init(layout: HostLayout) { self.layout = layout }
}

/// `kuke doctor`'s verdicts: one row per check, in a fixed order.
public enum Doctor {
    /// The plugins kuke's conflists name, in chain order.
    public static let pluginTypes = ["bridge", "host-local"]

    public static func checks(_ facts: HostFacts) -> [DoctorCheck] {
        var rows: [DoctorCheck] = []
        rows.append(cgroup2(facts))
        rows.append(cgroupRoot(facts))
        rows.append(controllers(facts))
        rows.append(cniPlugins(facts))
        rows.append(cniVersions(facts))
        rows.append(nftables(facts))
        rows.append(ipForward(facts))
        rows.append(bridgeNetfilter(facts))
        rows.append(networkd(facts))
        rows.append(foreignConflists(facts))
        rows.append(leftoverLeases(facts))
        rows.append(runPath(facts))
        rows.append(unrecordedBridges(facts))
        return rows
    }

    static func list(_ items: [String]) -> String { items.isEmpty ? "none" : items.joined(separator: " ") }

    static func cgroup2(_ facts: HostFacts) -> DoctorCheck {
        guard let mount = facts.cgroup2Mount else {
            return DoctorCheck(
                "cgroup2", .fail, "no cgroup2 file system is mounted",
                fix: "mount -t cgroup2 none /sys/fs/cgroup/unified (or boot with systemd.unified_cgroup_hierarchy=1)")
        }
        if facts.v1Controllers.isEmpty { return DoctorCheck("cgroup2", .ok, "unified: cgroup2 at \(mount) holds every controller") }
        return DoctorCheck(
            "cgroup2", .ok,
            "hybrid: cgroup2 at \(mount); bound to cgroup v1, so not available to spaces: \(list(facts.v1Controllers))")
    }

    static func cgroupRoot(_ facts: HostFacts) -> DoctorCheck {
        let root = facts.layout.cgroupRoot
        let own = facts.layout.kukeonCgroup
        let systemd = facts.layout.cgroupDriver == .systemd
        if let problem = facts.cgroupRootProblem {
            return DoctorCheck(
                "cgroup-root", .fail, "cgroup driver \(facts.layout.cgroupDriver.rawValue): \(problem)",
                hint: .cgroupRoot(driver: facts.layout.cgroupDriver))
        }
        if let type = facts.kukeCgroupType, type != "domain" {
            return DoctorCheck(
                "cgroup-root", .fail, "\(own) is a \(type) cgroup: memory, io and pids need a domain subtree (threaded-subtree)",
                hint: .moveCgroupTree)
        }
        if facts.kukeCgroupProcesses > 0 {
            return DoctorCheck(
                "cgroup-root", .fail,
                "\(facts.kukeCgroupProcesses) process(es) sit in \(own) itself: the kernel refuses to enable controllers below a cgroup with processes (internal-process)",
                fix: "move them out: echo PID > \(root)/cgroup.procs, for each PID in \(own)/cgroup.procs")
        }
        let state = facts.kukeCgroupType == nil ? "\(own) is made on the first apply" : "\(own) exists"
        let driver =
            systemd
            ? "cgroup driver systemd: realms and spaces are slices under \(SliceName.top), made by systemd through its bus"
            : "cgroup driver cgroupfs"
        return DoctorCheck("cgroup-root", .ok, "\(root) is cgroup2; \(driver); \(state)")
    }

    static func controllers(_ facts: HostFacts) -> DoctorCheck {
        let root = facts.layout.cgroupRoot
        let requested = facts.requestedControllers.keys.sorted()
        let offered = "\(root) delegates: \(list(facts.offeredControllers))"
        guard !requested.isEmpty else {
            return DoctorCheck("controllers", .ok, "no realm or space sets spec.resources; \(offered)")
        }
        var missing: [String] = []
        var notDelegated: [String] = []
        for controller in requested where !facts.offeredControllers.contains(controller) {
            let who = facts.requestedControllers[controller, default: []].sorted()
            let asked = "\(controller) (asked by \(who.prefix(3).joined(separator: ", "))\(who.count > 3 ? ", …" : ""))"
            if facts.availableControllers.contains(controller) {
                notDelegated.append(asked)
            } else if facts.v1Controllers.contains(controller) {
                missing.append("\(asked): bound to cgroup v1")
            } else {
                missing.append("\(asked): not in this kernel's cgroup2")
            }
        }
        if missing.isEmpty && notDelegated.isEmpty {
            return DoctorCheck("controllers", .ok, "requested: \(list(requested)); \(offered)")
        }
        var detail: [String] = []
        var fixes: [String] = []
        if !missing.isEmpty {
            detail.append("unavailable (kernel-missing): " + missing.joined(separator: "; "))
            fixes.append("boot with cgroup v2 only (systemd.unified_cgroup_hierarchy=1) so these controllers move to cgroup2")
        }
        if !notDelegated.isEmpty {
            detail.append("not delegated to kuke (not-delegated): " + notDelegated.joined(separator: "; "))
            let names = requested.filter { facts.availableControllers.contains($0) && !facts.offeredControllers.contains($0) }
            let write = "echo '\(names.map { "+" + $0 }.joined(separator: " "))' > \(root)/cgroup.subtree_control"
            if facts.underSystemd, let persistent = SystemdControllers.setProperty(names) {
                let others = names.filter { SystemdControllers.property(for: $0) == nil }
                let rest = others.isEmpty ? "" : "; and \(others.map { "+" + $0 }.joined(separator: " ")) by hand: \(write)"
                fixes.append(
                    "\(persistent) (systemd then enables them at the root now and at every boot; the packaged kuke-watch.service asks for them the same way)\(rest)"
                )
            } else {
                fixes.append(write)
            }
        }
        return DoctorCheck(
            "controllers", .fail, detail.joined(separator: "; ") + " (those spaces fail with ControllerUnavailable)",
            fix: fixes.joined(separator: "; "))
    }

    static func cniPlugins(_ facts: HostFacts) -> DoctorCheck {
        let path = facts.layout.cniPluginDirectories.joined(separator: ":")
        var found: [String] = []
        var problems: [String] = []
        for plugin in facts.plugins {
            guard let executable = plugin.path else {
                problems.append("\(plugin.type): not found in \(path)")
                continue
            }
            if let versions = plugin.supportedVersions {
                found.append("\(plugin.type) (\(executable), CNI \(versions.last ?? "?"))")
            } else {
                problems.append("\(plugin.type) (\(executable)): VERSION failed: \(plugin.problem ?? "no answer")")
            }
        }
        if problems.isEmpty { return DoctorCheck("cni-plugins", .ok, found.joined(separator: ", ")) }
        return DoctorCheck(
            "cni-plugins", .fail, problems.joined(separator: "; ") + " (CNI_PATH=\(path)): runtimes cannot attach containers to spaces",
            fix: "apt-get install containernetworking-plugins (it installs to /usr/lib/cni), or set CNI_PATH to where they are")
    }

    static func cniVersions(_ facts: HostFacts) -> DoctorCheck {
        let supported = facts.plugins.map { plugin in (plugin.type, Set(plugin.supportedVersions ?? [])) }
        guard !supported.isEmpty, supported.allSatisfy({ !$0.1.isEmpty }) else {
            return DoctorCheck(
                "cni-version", .warn, "not checked: the plugins did not answer VERSION (see cni-plugins)", fix: "fix cni-plugins first")
        }
        var versions = facts.conflistVersions
        versions[Conflist.cniVersion, default: []].append("the conflists kuke writes")
        var unsupported: [String] = []
        for (version, conflists) in versions.sorted(by: { $0.key < $1.key }) {
            for (type, set) in supported where !set.contains(version) {
                unsupported.append("\(type) does not speak cniVersion \(version) (\(conflists.sorted().prefix(3).joined(separator: ", ")))")
            }
        }
        if unsupported.isEmpty {
            return DoctorCheck("cni-version", .ok, "the plugins speak cniVersion \(versions.keys.sorted().joined(separator: ", "))")
        }
        return DoctorCheck(
            "cni-version", .fail, unsupported.joined(separator: "; "),
            hint: .upgradePlugins(cniVersion: Conflist.cniVersion))
    }

    static func nftables(_ facts: HostFacts) -> DoctorCheck {
        guard let problem = facts.nftablesProblem else {
            return DoctorCheck("nftables", .ok, "nf_tables answers: kuke can hold its isolation table")
        }
        return DoctorCheck(
            "nftables", .fail, "\(problem): without the table every space fails closed (FirewallFailed)",
            fix: "run as root (CAP_NET_ADMIN) and load nf_tables: modprobe nf_tables")
    }

    static func ipForward(_ facts: HostFacts) -> DoctorCheck {
        switch facts.ipForward {
        case "1": return DoctorCheck("ip-forward", .ok, "net.ipv4.ip_forward = 1")
        case nil: return DoctorCheck("ip-forward", .warn, "net.ipv4.ip_forward cannot be read", fix: "check /proc/sys/net/ipv4/ip_forward")
        case let value?:
            return DoctorCheck(
                "ip-forward", .warn,
                "net.ipv4.ip_forward = \(value): spaces reach the host but nothing beyond it until forwarding is on (CNI's bridge plugin turns it on at its next ADD)",
                fix: "sysctl -w net.ipv4.ip_forward=1, and keep it: echo net.ipv4.ip_forward=1 > /etc/sysctl.d/60-kuke.conf")
        }
    }

    static func bridgeNetfilter(_ facts: HostFacts) -> DoctorCheck {
        guard let value = facts.bridgeNetfilterCallIptables else {
            return DoctorCheck("br-netfilter", .ok, "br_netfilter is not loaded: traffic within a space is bridged, not filtered")
        }
        if value == "0" {
            return DoctorCheck("br-netfilter", .ok, "br_netfilter is loaded with bridge-nf-call-iptables = 0: traffic within a space is not filtered")
        }
        return DoctorCheck(
            "br-netfilter", .warn,
            "br_netfilter is loaded with bridge-nf-call-iptables = \(value): traffic within a space also passes the host's forward hooks, so another firewall's drop policy (Docker sets FORWARD to DROP) cuts a space's containers off from each other; kuke's own rules pass it",
            fix: "sysctl -w net.bridge.bridge-nf-call-iptables=0 if nothing here needs it, or accept kuke-* bridges in that firewall")
    }

    static func networkd(_ facts: HostFacts) -> DoctorCheck {
        guard facts.networkdRunning else { return DoctorCheck("networkd", .ok, "systemd-networkd is not running") }
        guard let match = facts.networkdMatch else {
            return DoctorCheck(
                "networkd", .warn,
                "systemd-networkd runs and no .network file marks kuke-* bridges Unmanaged=yes: a catch-all file added later would take them over",
                fix: "install manifests/10-kuke-unmanaged.network in /etc/systemd/network (the Debian package ships it), then networkctl reload")
        }
        if match.unmanaged { return DoctorCheck("networkd", .ok, "systemd-networkd runs; \(match.file) leaves kuke-* bridges unmanaged") }
        return DoctorCheck(
            "networkd", .fail,
            "systemd-networkd manages kuke-* bridges through \(match.file) (the first .network file that matches them): it may reconfigure or remove their addresses",
            fix:
                "install manifests/10-kuke-unmanaged.network so it sorts before \(match.file.split(separator: "/").last ?? ""), then networkctl reload"
        )
    }

    static func foreignConflists(_ facts: HostFacts) -> DoctorCheck {
        let pool = facts.layout.subnetPool
        guard !facts.foreignOverlaps.isEmpty || !facts.unreadableConflists.isEmpty else {
            return DoctorCheck("foreign-conflists", .ok, "no network configuration of another runtime claims a range in the pool \(pool)")
        }
        var details = facts.unreadableConflists
        let fix = facts.unreadableConflists.isEmpty ? nil : "repair or move away the files that cannot be read (a CNI runtime skips them too)"
        var hint: Hint?
        if !facts.foreignOverlaps.isEmpty {
            let claims = facts.foreignOverlaps.map { "\($0.path) claims \($0.subnet)" }
            details.append(claims.joined(separator: "; ") + ": inside the pool \(pool); kuke skips these ranges")
            hint = .foreignRanges(pool: pool)
        }
        return DoctorCheck("foreign-conflists", .warn, details.joined(separator: "; "), fix: fix, hint: hint)
    }

    static func leftoverLeases(_ facts: HostFacts) -> DoctorCheck {
        let directory = facts.layout.cniStateDirectory + "/networks"
        guard !facts.leftoverLeases.isEmpty else {
            return DoctorCheck("host-local-state", .ok, "every lease directory in \(directory) belongs to a network")
        }
        let paths = facts.leftoverLeases.map { "\(directory)/\($0)" }
        return DoctorCheck(
            "host-local-state", .warn,
            "host-local leases of networks no configuration names (deleted without kuke, or by another runtime): \(paths.joined(separator: ", "))",
            fix: "rm -r \(paths.joined(separator: " ")) once no container uses those networks")
    }

    static func runPath(_ facts: HostFacts) -> DoctorCheck {
        let path = facts.layout.runPath
        guard facts.runPathExists else {
            return DoctorCheck(
                "run-path", .warn, "\(path) does not exist yet", hint: .initialize)
        }
        if !facts.unreadableRecords.isEmpty {
            return DoctorCheck(
                "run-path", .fail, "unreadable records: \(facts.unreadableRecords.joined(separator: "; "))",
                hint: .repairRecords)
        }
        return DoctorCheck("run-path", .ok, "\(path): \(facts.recordCounts.realms) realm(s), \(facts.recordCounts.spaces) space(s)")
    }

    static func unrecordedBridges(_ facts: HostFacts) -> DoctorCheck {
        guard !facts.unrecordedBridges.isEmpty else { return DoctorCheck("kuke-bridges", .ok, "every kuke-* bridge has a space record") }
        return DoctorCheck(
            "kuke-bridges", .warn,
            "kuke-* bridges no space record describes: \(facts.unrecordedBridges.joined(separator: ", ")); the isolation table drops their traffic to other kuke bridges and out of the host",
            hint: .unrecordedBridges(facts.unrecordedBridges))
    }
}
