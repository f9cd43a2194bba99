import Glibc
import KukeEngine
import KukeModel

/// `CgroupControl` for the systemd cgroup driver. The realm and space cgroups are slices
/// (`kukeon.slice/kukeon-<realm>.slice/kukeon-<realm>-<space>.slice`), transient units that
/// systemd makes and removes when asked over its bus; their limits are unit properties
/// (`SystemdUnitProperties`), so systemd itself enables the controllers up the tree and re-applies
/// the limits whenever it realizes a slice. Everything is read from the kernel's files, as under
/// cgroupfs: what kuke compares is what the kernel holds. A path that is not a slice (a cell's
/// cgroup a runtime made without systemd) and a file systemd does not manage (`hugetlb.*`) are
/// handled as the cgroupfs driver does.
public struct SystemdSlices: CgroupControl {
    public var filesystem: CgroupFilesystem
    public var bus: any UnitBus
    /// The cgroup2 mount systemd's tree lives in; nil when there is none.
    public var systemdMount: String?
    /// How long a slice may take to appear or go after systemd accepted the job.
    public var settleSeconds: Double = 10

    public init(root: String, bus: any UnitBus = SystemdBus(), systemdMount: String? = CgroupFilesystem.discoverMount()) {
        self.filesystem = CgroupFilesystem(root: root)
        self.bus = bus
        self.systemdMount = systemdMount
    }

    public func rootProblem() -> String? {
        if let mount = systemdMount, mount != filesystem.root {
            return
                "the systemd cgroup driver makes slices in systemd's tree, the cgroup2 mount \(mount), not in the cgroup root \(filesystem.root): leave the cgroup root unset or set it to \(mount)"
        }
        if let problem = filesystem.rootProblem() { return problem }
        return bus.problem()
    }

    public func isPopulated(_ path: String) throws(HostError) -> Bool { try filesystem.isPopulated(path) }
    /// As the cgroupfs driver observes, but a slice's directory seen without its interface files
    /// (seen once in the VM, just after systemd started a slice beside it) is looked at again for
    /// up to half a second before it is called broken.
    public func observe(_ path: String) throws(HostError) -> ObservedCgroup? {
        var attempts = 0
        while true {
            do {
                return try filesystem.observe(path)
            } catch  where error.errno == .notDirectory && SliceName.unit(ofPath: path) != nil && attempts < 250 {
                attempts += 1
                usleep(2_000)
            }
        }
    }
    public func children(_ path: String) throws(HostError) -> [String] { try filesystem.children(path) }
    public func readFile(_ name: String, in path: String) throws(HostError) -> String? { try filesystem.readFile(name, in: path) }
    public func hugePageSizes() -> [String] { filesystem.hugePageSizes() }

    public func makeDirectory(_ path: String) throws(HostError) {
        guard let unit = SliceName.unit(ofPath: path) else { return try filesystem.makeDirectory(path) }
        try bus.startSlice(unit, description: "kuke: \(path.dropFirst(filesystem.root.count))", properties: [])
        try settle(path, present: true, unit: unit)
        FaultInjection.step("start \(unit)")
    }

    /// systemd's own controllers (`SystemdControllers.managed`) follow the slices' properties;
    /// only the others (`hugetlb`) are written.
    public func enable(_ controllers: [String], in path: String) throws(HostError) {
        let own = controllers.filter { !SystemdControllers.managed.contains($0) }
        if !own.isEmpty { try filesystem.enable(own, in: path) }
    }

    public func removeDirectory(_ path: String) throws(HostError) {
        guard let unit = SliceName.unit(ofPath: path) else { return try filesystem.removeDirectory(path) }
        if try observe(path) == nil { return }
        // Stopping a slice stops every unit in it: never while anything runs there.
        if try filesystem.isPopulated(path) {
            throw HostError("slice \(unit): not stopped: processes are in \(path) or below", errno: .resourceBusy)
        }
        try bus.stop(unit)
        try settle(path, present: false, unit: unit)
        FaultInjection.step("stop \(unit)")
    }

    public func writeFile(_ name: String, _ value: String, in path: String) throws(HostError) {
        guard let unit = SliceName.unit(ofPath: path), let properties = try SystemdUnitProperties.properties(file: name, line: value) else {
            return try filesystem.writeFile(name, value, in: path)
        }
        try bus.setProperties(unit, properties)
        FaultInjection.step("set \(unit) \(properties.map(\.description).joined(separator: " "))")
    }

    /// Waits until the slice's cgroup exists (`present`) or is gone: systemd answers a start or a
    /// stop when it has queued the job, and runs it just after.
    func settle(_ path: String, present: Bool, unit: String) throws(HostError) {
        var waited = 0.0
        while (try observe(path) != nil) != present {
            if waited >= settleSeconds {
                throw HostError(
                    "slice \(unit): its cgroup \(path) is \(present ? "still missing" : "still there") \(Int(settleSeconds)) s after systemd accepted the \(present ? "start" : "stop")",
                    errno: .timedOut)
            }
            usleep(2_000)
            waited += 0.002
        }
    }
}
