import KukeEngine
import KukeModel
import KukeTestSupport
import Testing

/// `kuke doctor`'s verdicts from facts, one fault at a time: a fit host is all OK, and each
/// fault turns exactly its own row to WARN or FAIL, with a fix.
@Suite("doctor")
struct DoctorTests {
    static let layout = HostLayout(
        runPath: "/opt/kukeon", cniConfigDirectory: "/etc/cni/net.d", cgroupRoot: "/sys/fs/cgroup", subnetPool: HostLayout.defaultSubnetPool,
        cniStateDirectory: "/var/lib/cni", cniPluginDirectories: ["/usr/lib/cni"])

    /// A host kuke is happy on: unified cgroup2, plugins that speak 1.0.0, forwarding on.
    static func fit() -> HostFacts {
        var facts = HostFacts(layout: layout)
        facts.cgroup2Mount = "/sys/fs/cgroup"
        facts.availableControllers = ["cpu", "io", "memory", "pids"]
        facts.offeredControllers = ["cpu", "io", "memory", "pids"]
        facts.kukeCgroupType = "domain"
        facts.requestedControllers = ["memory": ["space main/blog"]]
        facts.plugins = [
            .init(type: "bridge", path: "/usr/lib/cni/bridge", supportedVersions: ["0.4.0", "1.0.0"]),
            .init(type: "host-local", path: "/usr/lib/cni/host-local", supportedVersions: ["0.4.0", "1.0.0"]),
        ]
        facts.conflistVersions = ["1.0.0": ["/etc/cni/net.d/main-blog.conflist"]]
        facts.ipForward = "1"
        facts.runPathExists = true
        facts.recordCounts = (1, 1)
        return facts
    }

    func row(_ facts: HostFacts, _ check: String) -> DoctorCheck {
        Doctor.checks(facts).first { $0.check == check }!
    }

    /// Every row but `check` is OK, and `check` is `status` with a fix.
    func expectOnly(_ facts: HostFacts, _ check: String, _ status: DoctorCheck.Status, detail: String) {
        for other in Doctor.checks(facts) where other.check != check {
            #expect(other.status == .ok, "\(other)")
        }
        let found = row(facts, check)
        #expect(found.status == status, "\(found)")
        #expect(found.detail.contains(detail), "\(found.detail)")
        #expect(found.fix(worded: DataHints())?.isEmpty == false)
    }

    @Test("a fit host is OK on every row, in a fixed order")
    func fitHost() {
        let rows = Doctor.checks(Self.fit())
        #expect(
            rows.map(\.check) == [
                "cgroup2", "cgroup-root", "controllers", "cni-plugins", "cni-version", "nftables", "ip-forward", "br-netfilter", "networkd",
                "foreign-conflists", "host-local-state", "run-path", "kuke-bridges",
            ])
        #expect(rows.allSatisfy { $0.status == .ok && $0.fix == nil }, "\(rows)")
        #expect(row(Self.fit(), "cni-plugins").detail.contains("bridge (/usr/lib/cni/bridge, CNI 1.0.0)"))
    }

    @Test("a kuke-* bridge no record describes warns, naming it, with both fixes")
    func unrecordedBridge() {
        var facts = Self.fit()
        facts.unrecordedBridges = ["kuke-main-gone"]
        expectOnly(facts, "kuke-bridges", .warn, detail: "kuke-main-gone")
        #expect(row(facts, "kuke-bridges").hint == .unrecordedBridges(["kuke-main-gone"]))
    }

    @Test("a missing plugin fails, naming it and CNI_PATH; the version row then cannot judge")
    func missingPlugin() {
        var facts = Self.fit()
        facts.plugins[0].path = nil
        facts.plugins[0].supportedVersions = nil
        #expect(row(facts, "cni-plugins").status == .fail)
        #expect(row(facts, "cni-plugins").detail.contains("bridge: not found in /usr/lib/cni"))
        #expect(row(facts, "cni-version").status == .warn)
    }

    @Test("a plugin that does not speak the conflists' cniVersion fails cni-version")
    func oldPlugins() {
        var facts = Self.fit()
        facts.plugins[1].supportedVersions = ["0.3.0", "0.3.1", "0.4.0"]
        expectOnly(facts, "cni-version", .fail, detail: "host-local does not speak cniVersion 1.0.0")
    }

    @Test("a controller asked for but bound to cgroup v1 or not delegated fails, naming who asks")
    func controllers() {
        var hybrid = Self.fit()
        hybrid.availableControllers = ["hugetlb"]
        hybrid.offeredControllers = ["hugetlb"]
        hybrid.v1Controllers = ["cpu", "io", "memory", "pids"]
        #expect(row(hybrid, "cgroup2").status == .ok && row(hybrid, "cgroup2").detail.hasPrefix("hybrid"))
        expectOnly(hybrid, "controllers", .fail, detail: "memory (asked by space main/blog): bound to cgroup v1")

        var undelegated = Self.fit()
        undelegated.offeredControllers = ["cpu"]
        undelegated.underSystemd = true
        expectOnly(undelegated, "controllers", .fail, detail: "not delegated to kuke (not-delegated): memory (asked by space main/blog)")
        #expect(row(undelegated, "controllers").fix?.hasPrefix("systemctl set-property system.slice MemoryAccounting=yes (") == true)
        undelegated.underSystemd = false
        #expect(row(undelegated, "controllers").fix == "echo '+memory' > /sys/fs/cgroup/cgroup.subtree_control")
        undelegated.underSystemd = true
        undelegated.availableControllers.append("hugetlb")
        undelegated.requestedControllers["hugetlb"] = ["space main/blog"]
        undelegated.requestedControllers["io"] = ["space main/blog"]
        let fix = row(undelegated, "controllers").fix ?? ""
        #expect(fix.hasPrefix("systemctl set-property system.slice IOWeight=100 MemoryAccounting=yes ("), "\(fix)")
        #expect(fix.hasSuffix("; and +hugetlb by hand: echo '+hugetlb +io +memory' > /sys/fs/cgroup/cgroup.subtree_control"), "\(fix)")

        var nothingAsked = Self.fit()
        nothingAsked.offeredControllers = []
        nothingAsked.requestedControllers = [:]
        #expect(row(nothingAsked, "controllers").status == .ok)
    }

    @Test("processes in kuke's own cgroup, or a threaded subtree, fail cgroup-root")
    func cgroupRoot() {
        var busy = Self.fit()
        busy.kukeCgroupProcesses = 2
        expectOnly(busy, "cgroup-root", .fail, detail: "internal-process")
        var threaded = Self.fit()
        threaded.kukeCgroupType = "domain threaded"
        expectOnly(threaded, "cgroup-root", .fail, detail: "threaded-subtree")
        var none = Self.fit()
        none.cgroup2Mount = nil
        #expect(row(none, "cgroup2").status == .fail)
    }

    @Test("the cgroup-root row names the driver; under systemd a bus or init problem fails it with the way out")
    func cgroupDriver() {
        #expect(row(Self.fit(), "cgroup-root").detail.contains("cgroup driver cgroupfs; /sys/fs/cgroup/kukeon exists"))
        var systemd = Self.fit()
        systemd.layout.cgroupDriver = .systemd
        let ok = row(systemd, "cgroup-root")
        #expect(ok.status == .ok && ok.detail.contains("cgroup driver systemd") && ok.detail.contains("/sys/fs/cgroup/kukeon.slice exists"), "\(ok)")
        systemd.cgroupRootProblem = "systemd is not this host's init (no /run/systemd/system): use the cgroupfs driver"
        let failed = row(systemd, "cgroup-root")
        #expect(failed.status == .fail && failed.detail.hasPrefix("cgroup driver systemd: systemd is not this host's init"), "\(failed)")
        #expect(failed.hint == .cgroupRoot(driver: .systemd), "\(failed)")
    }

    @Test("forwarding off, br_netfilter calling iptables, an overlapping conflist and stale leases warn")
    func warnings() {
        var forwarding = Self.fit()
        forwarding.ipForward = "0"
        expectOnly(forwarding, "ip-forward", .warn, detail: "net.ipv4.ip_forward = 0")

        var bridged = Self.fit()
        bridged.bridgeNetfilterCallIptables = "1"
        expectOnly(bridged, "br-netfilter", .warn, detail: "bridge-nf-call-iptables = 1")
        bridged.bridgeNetfilterCallIptables = "0"
        #expect(row(bridged, "br-netfilter").status == .ok)

        var overlapping = Self.fit()
        overlapping.foreignOverlaps = [ForeignClaim(path: "/etc/cni/net.d/87-podman-bridge.conflist", subnet: IPv4Subnet("10.88.0.0/16")!)]
        expectOnly(overlapping, "foreign-conflists", .warn, detail: "87-podman-bridge.conflist claims 10.88.0.0/16")
        overlapping.unreadableConflists = ["network configuration /etc/cni/net.d/90-broken.conflist cannot be read (…)"]
        let both = row(overlapping, "foreign-conflists")
        #expect(both.status == .warn && both.detail.contains("90-broken.conflist") && both.detail.contains("87-podman-bridge.conflist"))
        #expect(
            both.fix(worded: DataHints())
                == "repair or move away the files that cannot be read (a CNI runtime skips them too); foreignRanges(pool: 10.88.0.0/16)")

        var leftover = Self.fit()
        leftover.leftoverLeases = ["main-gone"]
        expectOnly(leftover, "host-local-state", .warn, detail: "/var/lib/cni/networks/main-gone")
    }

    @Test("networkd: running without an Unmanaged file warns, managing kuke's bridges fails")
    func networkd() {
        var facts = Self.fit()
        facts.networkdRunning = true
        expectOnly(facts, "networkd", .warn, detail: "no .network file marks kuke-* bridges Unmanaged=yes")
        facts.networkdMatch = ("/etc/systemd/network/99-all.network", false)
        expectOnly(facts, "networkd", .fail, detail: "through /etc/systemd/network/99-all.network")
        facts.networkdMatch = ("/lib/systemd/network/10-kuke-unmanaged.network", true)
        #expect(row(facts, "networkd").status == .ok)
    }

    @Test("nftables unusable fails; a missing run path warns, unreadable records fail")
    func nftablesAndRecords() {
        var facts = Self.fit()
        facts.nftablesProblem = "nftables: Operation not permitted"
        expectOnly(facts, "nftables", .fail, detail: "Operation not permitted")
        var fresh = Self.fit()
        fresh.runPathExists = false
        expectOnly(fresh, "run-path", .warn, detail: "does not exist yet")
        var broken = Self.fit()
        broken.unreadableRecords = ["/opt/kukeon/main/blog/space.yaml: bad"]
        expectOnly(broken, "run-path", .fail, detail: "unreadable records")
    }
}
