import Foundation
import KukeEngine
import KukeModel
import KukeTestSupport
import Synchronization
import Testing

@testable import KukeHost

/// systemd as far as the slices driver sees it, on a directory tree: a started slice gets its
/// cgroup where systemd puts it (each `-` of the unit name a level, `kukeon-a-b.slice` in
/// `kukeon.slice/kukeon-a.slice`), properties are written into the interface files the way
/// systemd's cgroup code writes them, a stop removes the cgroup. Every request is logged.
final class FakeSystemd: UnitBus {
    let root: String
    let log = Mutex<[String]>([])

    init(root: String) { self.root = root }

    func problem() -> String? { nil }

    /// systemd's rule for a slice's place: every prefix ending before a `-` is a parent slice.
    func path(of unit: String) -> String {
        let stem = unit.dropLast(".slice".count)
        var levels: [String] = []
        for (index, character) in stem.enumerated() where character == "-" {
            levels.append(String(stem.prefix(index)) + ".slice")
        }
        return ([root] + levels + [unit]).joined(separator: "/")
    }

    func startSlice(_ name: String, description: String, properties: [UnitProperty]) throws(HostError) {
        log.withLock { $0.append("start \(name)") }
        let path = path(of: name)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: "\(path)/cgroup.subtree_control", contents: Data())
        _ = FileManager.default.createFile(atPath: "\(path)/cgroup.events", contents: Data("populated 0\nfrozen 0\n".utf8))
        try setProperties(name, properties)
    }

    func setProperties(_ name: String, _ properties: [UnitProperty]) throws(HostError) {
        guard !properties.isEmpty else { return }
        log.withLock { $0.append("set \(name) \(properties.map(\.description).joined(separator: " "))") }
        let path = path(of: name)
        func text(_ number: UInt64) -> String { number == .max ? "max" : String(number) }
        func write(_ file: String, _ value: String) {
            _ = FileManager.default.createFile(atPath: "\(path)/\(file)", contents: Data((value + "\n").utf8))
        }
        var perSecond: UInt64?
        var period: UInt64 = 100_000
        var io: [String: [String: String]] = [:]
        for property in properties {
            switch (property.name, property.value) {
            case ("MemoryMax", .uint64(let n)): write("memory.max", text(n))
            case ("MemoryHigh", .uint64(let n)): write("memory.high", text(n))
            case ("MemorySwapMax", .uint64(let n)): write("memory.swap.max", text(n))
            case ("TasksMax", .uint64(let n)): write("pids.max", text(n))
            case ("CPUWeight", .uint64(let n)): write("cpu.weight", text(n))
            case ("IOWeight", .uint64(let n)): write("io.weight", "default \(n)")
            case ("CPUQuotaPerSecUSec", .uint64(let n)): perSecond = n
            case ("CPUQuotaPeriodUSec", .uint64(let n)): period = n
            case (let name, .devices(let entries)) where name.hasPrefix("IO"):
                let key = ["IOReadBandwidthMax": "rbps", "IOWriteBandwidthMax": "wbps", "IOReadIOPSMax": "riops", "IOWriteIOPSMax": "wiops"][name]!
                for entry in entries { io[String(entry.path.dropFirst("/dev/block/".count)), default: [:]][key] = text(entry.value) }
            default: throw HostError("FakeSystemd: unknown property \(property)")
            }
        }
        if let perSecond { write("cpu.max", "\(perSecond == .max ? "max" : String(perSecond * period / 1_000_000)) \(period)") }
        for (device, limits) in io {
            let line = ["rbps", "wbps", "riops", "wiops"].map { "\($0)=\(limits[$0] ?? "max")" }.joined(separator: " ")
            write("io.max", "\(device) \(line)")
        }
    }

    func stop(_ name: String) throws(HostError) {
        log.withLock { $0.append("stop \(name)") }
        try? FileManager.default.removeItem(atPath: path(of: name))
    }

    var requests: [String] { log.withLock { $0 } }
    func clear() { log.withLock { $0 = [] } }
}

/// `SystemdSlices` on a plain directory: everything as it is but the check that the root is a
/// cgroup2 filesystem (and that systemd answers, which the fake does).
struct OnPlainDirectory: CgroupControl {
    var slices: SystemdSlices
    func rootProblem() -> String? { slices.bus.problem() }
    func isPopulated(_ path: String) throws(HostError) -> Bool { try slices.isPopulated(path) }
    func observe(_ path: String) throws(HostError) -> ObservedCgroup? { try slices.observe(path) }
    func makeDirectory(_ path: String) throws(HostError) { try slices.makeDirectory(path) }
    func enable(_ controllers: [String], in path: String) throws(HostError) { try slices.enable(controllers, in: path) }
    func removeDirectory(_ path: String) throws(HostError) { try slices.removeDirectory(path) }
    func children(_ path: String) throws(HostError) -> [String] { try slices.children(path) }
    func readFile(_ name: String, in path: String) throws(HostError) -> String? { try slices.readFile(name, in: path) }
    func writeFile(_ name: String, _ value: String, in path: String) throws(HostError) { try slices.writeFile(name, value, in: path) }
    func hugePageSizes() -> [String] { slices.hugePageSizes() }
}

@Suite("The systemd cgroup driver: slices and unit properties")
struct SystemdSlicesTests {
    let directory = NSTemporaryDirectory() + "kuke-slices-\(UUID().uuidString)"
    /// Files, links and the rest, kept across the passes of one test.
    let host = FakeHost()

    var layout: HostLayout {
        var layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: directory, subnetPool: IPv4Subnet("10.88.0.0/16")!)
        layout.cgroupDriver = .systemd
        return layout
    }

    /// An engine whose cgroups are `SystemdSlices` over `systemd`; everything else is the fake host.
    func engine(_ systemd: FakeSystemd) -> Engine {
        var drivers = host.drivers
        drivers.cgroups = OnPlainDirectory(slices: SystemdSlices(root: directory, bus: systemd, systemdMount: directory))
        return Engine(layout: layout, drivers: drivers)
    }

    func prepare() -> FakeSystemd {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The root: systemd has enabled memory and pids; cpu, io and hugetlb are available.
        _ = FileManager.default.createFile(atPath: "\(directory)/cgroup.subtree_control", contents: Data("memory pids\n".utf8))
        _ = FileManager.default.createFile(atPath: "\(directory)/cgroup.controllers", contents: Data("cpu io memory pids hugetlb\n".utf8))
        return FakeSystemd(root: directory)
    }

    func batch(realm: String = "main", space: String = "blog", _ resources: String) -> [Resource] {
        let text = """
            apiVersion: v1beta1
            kind: Realm
            metadata: {name: \(realm)}
            ---
            apiVersion: v1beta1
            kind: Space
            metadata: {name: \(space)}
            spec:
              realmId: \(realm)
              resources:
            \(resources.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n"))
            """
        let decoded = ManifestDecoder.decode(text, file: "blog.yaml")
        #expect(decoded.issues.isEmpty, "\(decoded.issues)")
        return decoded.resources
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    static let limits = """
        memory: {max: 48Mi, high: 32Mi}
        cpu: {max: 200m, weight: 50}
        pids: {max: 16}
        io: {weight: 200, max: [{device: "254:0", wbps: 1Mi}]}
        """

    @Test("slices are started top-down where systemd puts them, limits go as properties, and a second pass changes nothing")
    func converge() throws {
        let systemd = prepare()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outcomes = try engine(systemd).apply(batch(Self.limits))
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        let space = "\(directory)/kukeon.slice/kukeon-main.slice/kukeon-main-blog.slice"
        #expect(layout.spaceCgroup(SpaceID(realm: "main", name: "blog")) == space)
        #expect(systemd.path(of: "kukeon-main-blog.slice") == space, "kuke's path is systemd's")
        let requests = systemd.requests
        #expect(Array(requests.prefix(3)) == ["start kukeon.slice", "start kukeon-main.slice", "start kukeon-main-blog.slice"], "\(requests)")
        let sets = requests.filter { $0.hasPrefix("set kukeon-main-blog.slice") }.joined(separator: "\n")
        for property in [
            "MemoryMax=50331648", "MemoryHigh=33554432", "CPUQuotaPerSecUSec=200000", "CPUQuotaPeriodUSec=100000", "CPUWeight=50", "TasksMax=16",
            "IOWeight=200", "IOWriteBandwidthMax=/dev/block/254:0 1048576", "IOReadBandwidthMax=/dev/block/254:0 infinity",
        ] {
            #expect(sets.contains(property), "\(property) in \(sets)")
        }
        #expect(read("\(space)/cpu.max") == "20000 100000\n")
        #expect(read("\(space)/io.max") == "254:0 rbps=max wbps=1048576 riops=max wiops=max\n")
        // systemd's controllers are never written into a slice's cgroup.subtree_control.
        for level in ["kukeon.slice", "kukeon.slice/kukeon-main.slice", "kukeon.slice/kukeon-main.slice/kukeon-main-blog.slice"] {
            #expect(read("\(directory)/\(level)/cgroup.subtree_control") == "", "\(level)")
        }
        let record = try RecordCodec.decodeSpace(try #require(host.state.withLock { $0.files["/run/main/blog/space.yaml"] }), file: "x")
        #expect(record.status.slice == "kukeon-main-blog.slice")
        #expect(record.status.cgroupPath == space)
        #expect(record.status.subtreeControllers == [])
        systemd.clear()
        let again = try engine(systemd).apply(batch(Self.limits))
        #expect(again.allSatisfy { $0.outcome == .unchanged }, "\(again)")
        #expect(systemd.requests == [])
    }

    @Test("a property changed through systemd, or the slice stopped by hand, is drift: shown, then restored through systemd")
    func drift() throws {
        let systemd = prepare()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try engine(systemd).apply(batch(Self.limits))
        let space = systemd.path(of: "kukeon-main-blog.slice")
        // `systemctl set-property kukeon-main-blog.slice MemoryMax=96M`
        try systemd.setProperties("kukeon-main-blog.slice", [UnitProperty("MemoryMax", .uint64(96 << 20))])
        systemd.clear()
        let dry = try engine(systemd).apply(batch(Self.limits), options: ApplyOptions(dryRun: true))
        let change = try #require(dry.first { $0.name == "blog" }?.changes.first { $0.subject.hasSuffix("memory.max") })
        #expect(change.diff?.contains("-100663296") == true && change.diff?.contains("+50331648") == true, "\(String(describing: change.diff))")
        #expect(systemd.requests == [], "a dry run asks nothing of systemd")
        _ = try engine(systemd).apply(batch(Self.limits))
        #expect(systemd.requests == ["set kukeon-main-blog.slice MemoryMax=50331648"])
        #expect(read("\(space)/memory.max") == "50331648\n")
        // `systemctl stop kukeon-main-blog.slice`
        try systemd.stop("kukeon-main-blog.slice")
        systemd.clear()
        let outcomes = try engine(systemd).apply(batch(Self.limits))
        #expect(outcomes.first { $0.name == "blog" }?.outcome == .updated, "\(outcomes)")
        #expect(systemd.requests.first == "start kukeon-main-blog.slice", "\(systemd.requests)")
        #expect(read("\(space)/memory.max") == "50331648\n")
    }

    @Test("a removed limit returns to systemd's infinity; delete stops the slice, and never while processes live in it")
    func resetAndDelete() throws {
        let systemd = prepare()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try engine(systemd).apply(batch(Self.limits))
        systemd.clear()
        _ = try engine(systemd).apply(batch("memory: {max: 48Mi}"))
        let sets = systemd.requests.joined(separator: "\n")
        for property in ["TasksMax=infinity", "MemoryHigh=infinity", "CPUQuotaPerSecUSec=infinity", "CPUWeight=100", "IOWeight=100"] {
            #expect(sets.contains(property), "\(property) in \(sets)")
        }
        let space = systemd.path(of: "kukeon-main-blog.slice")
        _ = FileManager.default.createFile(atPath: "\(space)/cgroup.events", contents: Data("populated 1\nfrozen 0\n".utf8))
        systemd.clear()
        let busy = try engine(systemd).delete([.space(SpaceID(realm: "main", name: "blog"))], cascade: false)
        #expect(busy.first?.failure?.reason == .cgroupBusy, "\(busy)")
        #expect(systemd.requests == [], "nothing stopped")
        _ = FileManager.default.createFile(atPath: "\(space)/cgroup.events", contents: Data("populated 0\nfrozen 0\n".utf8))
        let deleted = try engine(systemd).delete([.realm("main")], cascade: true)
        #expect(deleted.allSatisfy { $0.failure == nil }, "\(deleted)")
        #expect(systemd.requests == ["stop kukeon-main-blog.slice", "stop kukeon-main.slice"])
        #expect(!FileManager.default.fileExists(atPath: space))
    }

    @Test("a `-` inside a name is escaped, so it never makes a level of its own")
    func escaping() throws {
        let systemd = prepare()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outcomes = try engine(systemd).apply(batch(realm: "my-team", space: "web-1", "pids: {max: 8}"))
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        let unit = #"kukeon-my\x2dteam-web\x2d1.slice"#
        #expect(SliceName.space(SpaceID(realm: "my-team", name: "web-1")) == unit)
        #expect(systemd.requests.contains("start \(unit)"))
        let expected = "\(directory)/kukeon.slice/kukeon-my\\x2dteam.slice/\(unit)"
        #expect(layout.spaceCgroup(SpaceID(realm: "my-team", name: "web-1")) == expected)
        #expect(systemd.path(of: unit) == expected)
        #expect(read("\(expected)/pids.max") == "8\n")
        #expect(SliceName.escape("a.b_c:d") == "a.b_c:d")
        #expect(SliceName.escape(".x/y z") == #"\x2ex-y\x20z"#)
    }

    @Test("the cgroup root must be systemd's own tree")
    func rootOutsideSystemd() {
        let slices = SystemdSlices(root: "/sys/fs/cgroup/unified/kuke-test", bus: FakeSystemd(root: "/x"), systemdMount: "/sys/fs/cgroup/unified")
        #expect(slices.rootProblem()?.contains("not in the cgroup root /sys/fs/cgroup/unified/kuke-test") == true)
    }

    @Test(
        "each file kuke writes maps to the properties that make systemd write the same value",
        arguments: [
            ("memory.max", "max", "MemoryMax=infinity"),
            ("memory.swap.max", "0", "MemorySwapMax=0"),
            ("cpu.max", "150000 100000", "CPUQuotaPerSecUSec=1500000 CPUQuotaPeriodUSec=100000"),
            ("cpu.max", "max 100000", "CPUQuotaPerSecUSec=infinity CPUQuotaPeriodUSec=100000"),
            ("io.weight", "default 100", "IOWeight=100"),
            (
                "io.max", "8:0 rbps=52428800 wbps=max riops=max wiops=1000",
                "IOReadBandwidthMax=/dev/block/8:0 52428800 IOWriteBandwidthMax=/dev/block/8:0 infinity IOReadIOPSMax=/dev/block/8:0 infinity IOWriteIOPSMax=/dev/block/8:0 1000"
            ),
            ("hugetlb.2MB.max", "67108864", "(written by kuke)"),
        ])
    func mapping(_ file: String, _ line: String, _ expected: String) throws {
        let properties = try SystemdUnitProperties.properties(file: file, line: line)
        #expect((properties?.map(\.description).joined(separator: " ") ?? "(written by kuke)") == expected)
    }

    @Test("a line systemd cannot take is an error naming it, never a guess")
    func mappingErrors() {
        for (file, line) in [
            ("memory.max", "lots"), ("cpu.max", "20000"), ("io.weight", "high 5"), ("io.max", "sda rbps=1"), ("io.max", "8:0 bps=1"),
        ] {
            #expect(throws: HostError.self, "\(file) \(line)") { try SystemdUnitProperties.properties(file: file, line: line) }
        }
    }
}
