import Foundation
import Glibc
import KukeEngine
import KukeModel

/// Reads what `kuke doctor` judges (`HostFacts`) off this host: mountinfo and the cgroup tree,
/// the CNI plugins (each asked `VERSION`, as a runtime would), conflists and host-local's
/// state, nftables, the sysctls of this network namespace, and systemd-networkd's files.
/// Read-only: it writes nothing and takes no lock.
public enum HostProbe {
    public static func facts(layout: HostLayout, inventory: Inventory, drivers: HostDrivers, manifests: [Resource] = []) -> HostFacts {
        var facts = HostFacts(layout: layout)
        let mountinfo = ProcFile.read("/proc/self/mountinfo")
        facts.cgroup2Mount = CgroupFilesystem.discoverMount(mountinfo: mountinfo)
        facts.v1Controllers = v1Controllers(mountinfo: mountinfo ?? "")
        facts.cgroupRootProblem = inventory.cgroupRootProblem
        facts.availableControllers = inventory.availableControllers
        facts.offeredControllers = inventory.offeredControllers
        let own = layout.kukeonCgroup
        facts.kukeCgroupType = (try? drivers.cgroups.readFile("cgroup.type", in: own))?.flatMap { $0 }?.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let procs = (try? drivers.cgroups.readFile("cgroup.procs", in: own))?.flatMap { $0 } ?? ""
        facts.kukeCgroupProcesses = procs.split(separator: "\n").count
        facts.requestedControllers = requestedControllers(inventory: inventory, manifests: manifests)
        facts.underSystemd = drivers.files.exists("/run/systemd/system")

        facts.plugins = Doctor.pluginTypes.map { plugin($0, directories: layout.cniPluginDirectories) }
        for space in inventory.spaces.values {
            guard let path = space.status.network?.conflistPath, let text = try? drivers.files.read(path),
                let version = (try? JSONParser.parse(text))?["cniVersion"]?.stringValue
            else { continue }
            facts.conflistVersions[version, default: []].append(path)
        }
        let directories = Set([layout.cniConfigDirectory]).union(inventory.conflistDirectories).sorted()
        let owned = { (path: String) in inventory.conflistOwner(path) != nil }
        let claims = ForeignClaimCache()
        facts.foreignOverlaps = directories.flatMap { claims.claims(in: $0, files: drivers.files, owned: owned) }.filter {
            $0.subnet.overlaps(layout.subnetPool)
        }
        facts.unreadableConflists = claims.takeUnreadable()
        facts.leftoverLeases = leftoverLeases(layout: layout, directories: directories, files: drivers.files)

        facts.nftablesProblem = NftablesFirewall().probe()
        facts.ipForward = ProcFile.read("/proc/sys/net/ipv4/ip_forward")?.trimmingCharacters(in: .whitespacesAndNewlines)
        facts.bridgeNetfilterCallIptables = ProcFile.read("/proc/sys/net/bridge/bridge-nf-call-iptables")?.trimmingCharacters(
            in: .whitespacesAndNewlines)
        facts.networkdRunning = processRunning(named: "systemd-network")
        let networkFiles = NetworkdFiles.load(list: { drivers.files.entries($0) }, read: { ProcFile.read($0) })
        let bridges = inventory.spaces.values.compactMap { $0.status.network?.bridge }.sorted() + ["kuke-example"]
        facts.networkdMatch = bridges.lazy.compactMap { NetworkdFiles.firstMatch(for: $0, in: networkFiles) }.first

        facts.runPathExists = drivers.files.exists(layout.runPath)
        facts.recordCounts = (inventory.realms.count, inventory.spaces.count)
        facts.unrecordedBridges = inventory.unrecordedBridges
        facts.unreadableRecords = inventory.unreadable.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        return facts
    }

    /// Controllers named in the options of cgroup v1 mounts (`blkio` is cgroup2's `io`).
    static func v1Controllers(mountinfo: String) -> [String] {
        let known: Set = ["cpu", "cpuset", "memory", "io", "pids", "hugetlb", "rdma", "misc"]
        var found: Set<String> = []
        for line in mountinfo.split(separator: "\n") {
            guard let separator = line.range(of: " - ") else { continue }
            let fields = line[separator.upperBound...].split(separator: " ")
            guard fields.count >= 3, fields[0] == "cgroup" else { continue }
            for option in fields[2].split(separator: ",") {
                let name = option == "blkio" ? "io" : String(option)
                if known.contains(name) { found.insert(name) }
            }
        }
        return found.sorted()
    }

    /// Each controller some realm or space asks for, with who asks (`space main/blog`).
    static func requestedControllers(inventory: Inventory, manifests: [Resource]) -> [String: [String]] {
        var requested: [String: Set<String>] = [:]
        func add(_ limits: ResourceLimits, _ who: String) {
            for controller in limits.controllers { requested[controller, default: []].insert(who) }
        }
        for (name, realm) in inventory.realms { add(realm.spec.limits, "realm \(name)") }
        for (id, space) in inventory.spaces { add(space.spec.limits, "space \(id)") }
        for resource in manifests {
            switch resource {
            case .realm(let realm): add(realm.spec.limits, "realm \(realm.metadata.name)")
            case .space(let space): add(space.spec.limits, "space \(space.spec.realmId)/\(space.metadata.name)")
            }
        }
        return requested.mapValues { $0.sorted() }
    }

    /// A plugin on CNI_PATH and what its `VERSION` command answers.
    static func plugin(_ type: String, directories: [String]) -> HostFacts.Plugin {
        guard let path = CNIPluginRunner(directories: directories).locate(type) else {
            return HostFacts.Plugin(type: type, path: nil, supportedVersions: nil)
        }
        let environment = ["CNI_COMMAND=VERSION", "CNI_PATH=\(directories.joined(separator: ":"))", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        do {
            let result = try PluginProcess.run(path, environment: environment, input: #"{"cniVersion":"\#(Conflist.cniVersion)"}"#)
            guard result.status == 0 else {
                return HostFacts.Plugin(type: type, path: path, supportedVersions: nil, problem: CNIPluginRunner.message(result))
            }
            guard let versions = (try? JSONParser.parse(result.output))?["supportedVersions"]?.arrayValue?.compactMap(\.stringValue) else {
                return HostFacts.Plugin(type: type, path: path, supportedVersions: nil, problem: "its answer has no supportedVersions")
            }
            return HostFacts.Plugin(type: type, path: path, supportedVersions: versions)
        } catch {
            return HostFacts.Plugin(type: type, path: path, supportedVersions: nil, problem: error.message)
        }
    }

    /// Lease directories of host-local (`<state>/networks/NAME`) that no network configuration
    /// in `directories` names.
    static func leftoverLeases(layout: HostLayout, directories: [String], files: any FileStore) -> [String] {
        let leases = files.entries(layout.cniStateDirectory + "/networks")
        guard !leases.isEmpty else { return [] }
        var names: Set<String> = []
        for directory in directories {
            for name in files.entries(directory) where ClaimedRanges.isNetworkConfiguration(name) {
                if let text = try? files.read("\(directory)/\(name)"), let network = (try? JSONParser.parse(text))?["name"]?.stringValue {
                    names.insert(network)
                }
            }
        }
        return leases.filter { !names.contains($0) && !$0.hasPrefix(".") }.sorted()
    }

    /// Whether a process whose `comm` is `name` runs (systemd-networkd's is `systemd-network`).
    static func processRunning(named name: String) -> Bool {
        guard let directory = opendir("/proc") else { return false }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let pid = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard pid.first?.isNumber == true else { continue }
            if ProcFile.read("/proc/\(pid)/comm")?.trimmingCharacters(in: .newlines) == name { return true }
        }
        return false
    }
}
