import Foundation
import KukeModel
import KukeTestSupport
import Testing

@testable import KukeEngine

/// `spec.resources`: quantities, the exact content of every interface file, ownership and drift.
@Suite("Resources: the cgroup boundary")
struct ResourceTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
    static let everything = ["cpu", "memory", "pids", "io", "hugetlb"]

    func engine(_ host: FakeHost) -> Engine { Engine(layout: layout, drivers: host.drivers) }

    /// Realm `main` and space `blog` with `resources` as YAML under `spec.resources`.
    func batch(_ resources: String?) -> [Resource] {
        var text =
            "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec:\n  realmId: main\n"
        if let resources { text += "  resources:\n" + resources.split(separator: "\n").map { "    \($0)\n" }.joined() }
        let decoded = ManifestDecoder.decode(text, file: "blog.yaml")
        #expect(decoded.issues.isEmpty, "\(decoded.issues)")
        return decoded.resources
    }

    func file(_ host: FakeHost, _ name: String) -> String? { host.state.withLock { $0.cgroupFiles["/cg/kukeon/main/blog/\(name)"] } }

    func record(_ host: FakeHost) throws -> SpaceRecord {
        try RecordCodec.decodeSpace(try #require(host.state.withLock { $0.files["/run/main/blog/space.yaml"] }), file: "x")
    }

    @Test(
        "the exact content of each file",
        arguments: [
            ("cpu: {max: \"1.5\"}", "cpu.max", "150000 100000"),
            ("cpu: {max: 500m}", "cpu.max", "50000 100000"),
            ("cpu: {max: 2}", "cpu.max", "200000 100000"),
            ("cpu: {max: max}", "cpu.max", "max 100000"),
            ("cpu: {weight: 250}", "cpu.weight", "250"),
            ("memory: {max: 2Gi}", "memory.max", "2147483648"),
            ("memory: {max: 1.5Gi}", "memory.max", "1610612736"),
            ("memory: {max: 2G}", "memory.max", "2000000000"),
            ("memory: {high: 1536Mi}", "memory.high", "1610612736"),
            ("memory: {swapMax: 0}", "memory.swap.max", "0"),
            ("memory: {max: max}", "memory.max", "max"),
            ("pids: {max: 1024}", "pids.max", "1024"),
            ("io: {weight: 100}", "io.weight", "default 100"),
            ("io: {max: [{device: \"8:0\", rbps: 50Mi, wiops: 1000}]}", "io.max", "8:0 rbps=52428800 wbps=max riops=max wiops=1000"),
            ("hugetlb: [{pageSize: 2MB, max: 64Mi}]", "hugetlb.2MB.max", "67108864"),
        ])
    func content(_ yaml: String, _ name: String, _ expected: String) throws {
        let host = FakeHost(offered: Self.everything)
        let outcomes = try engine(host).apply(batch(yaml))
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        #expect(file(host, name) == expected + "\n")
        let key = name == "io.max" ? "io.max 8:0" : name
        #expect(try record(host).status.resources?[key] != nil)
    }

    @Test("drift is shown and restored; a removed field returns to the kernel default; a file kuke never wrote is left alone")
    func ownership() throws {
        let host = FakeHost(offered: Self.everything)
        _ = try engine(host).apply(batch("memory: {max: 2Gi}\npids: {max: 100}"))
        host.state.withLock { state in
            state.cgroupFiles["/cg/kukeon/main/blog/memory.max"] = "1073741824\n"  // changed by hand: drift
            state.cgroupFiles["/cg/kukeon/main/blog/memory.high"] = "1000000000\n"  // kuke never wrote it
        }
        let dry = try engine(host).apply(batch("memory: {max: 2Gi}\npids: {max: 100}"), options: ApplyOptions(dryRun: true))
        let drift = try #require(dry.first { $0.name == "blog" }?.changes.first { $0.subject.hasSuffix("memory.max") })
        #expect(drift.diff?.contains("-1073741824") == true && drift.diff?.contains("+2147483648") == true, "\(String(describing: drift.diff))")
        _ = try engine(host).apply(batch("memory: {max: 2Gi}\npids: {max: 100}"))
        #expect(file(host, "memory.max") == "2147483648\n")
        // pids removed from the manifest: back to max, and out of status.resources.
        let outcomes = try engine(host).apply(batch("memory: {max: 2Gi}"))
        #expect(outcomes.first { $0.name == "blog" }?.changes.contains { $0.summary.contains("write pids.max max") } == true, "\(outcomes)")
        #expect(file(host, "pids.max") == "max\n")
        #expect(try record(host).status.resources == ["memory.max": "2147483648"])
        #expect(file(host, "memory.high") == "1000000000\n", "a hand-set value survives")
        // No resources at all: memory.max is reset too, memory.high still untouched.
        _ = try engine(host).apply(batch(nil))
        #expect(file(host, "memory.max") == "max\n" && file(host, "memory.high") == "1000000000\n")
        #expect(try record(host).status.resources == nil)
    }

    @Test("a value the kernel rounds to its page size is not drift")
    func rounding() throws {
        let host = FakeHost(offered: Self.everything)
        _ = try engine(host).apply(batch("memory: {max: 2G}"))
        host.state.withLock { $0.cgroupFiles["/cg/kukeon/main/blog/memory.max"] = "1999998976\n" }  // 2G rounded down to 4 KiB
        #expect(try engine(host).apply(batch("memory: {max: 2G}")).allSatisfy { $0.outcome == .unchanged })
    }

    @Test("a controller the root does not delegate fails the space with ControllerUnavailable, naming it and why; the other parts converge")
    func unavailable() throws {
        let host = FakeHost(offered: ["hugetlb"])
        host.state.withLock { $0.rootControllers = ["hugetlb", "pids"] }  // pids available but not delegated; memory not in cgroup2
        let outcomes = try engine(host).apply(batch("memory: {max: 1Gi}\npids: {max: 10}\nhugetlb: [{pageSize: 2MB, max: 4Mi}]"))
        let blog = try #require(outcomes.first { $0.name == "blog" })
        #expect(blog.failure?.reason == .controllerUnavailable, "\(blog)")
        #expect(blog.failure?.message.contains("memory is not in the cgroup2 hierarchy") == true)
        #expect(blog.failure?.message.contains("pids is not delegated by the cgroup root /cg") == true)
        #expect(host.state.withLock { $0.links["kuke-main-blog"] } != nil, "the bridge converged")
        #expect(file(host, "hugetlb.2MB.max") == "4194304\n", "what can be held is written")
        let stored = try record(host)
        #expect(stored.status.state == .failed && stored.status.reason == .controllerUnavailable)
        #expect(stored.status.resources == ["hugetlb.2MB.max": "4194304"])
    }

    @Test("a huge page size the kernel does not offer fails at apply time")
    func pageSize() throws {
        let host = FakeHost(offered: Self.everything)
        let outcomes = try engine(host).apply(batch("hugetlb: [{pageSize: 1GB, max: 1Gi}]"))
        #expect(outcomes.first { $0.name == "blog" }?.failure?.message.contains("hugetlb page size 1GB is not offered by this kernel") == true)
    }

    @Test("a realm's limits go to the realm cgroup")
    func realm() throws {
        let host = FakeHost(offered: Self.everything)
        let decoded = ManifestDecoder.decode(
            "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\nspec:\n  resources:\n    pids: {max: 500}\n", file: "realm.yaml")
        _ = try engine(host).apply(decoded.resources)
        #expect(host.state.withLock { $0.cgroupFiles["/cg/kukeon/main/pids.max"] } == "500\n")
        let realm = try RecordCodec.decodeRealm(try #require(host.state.withLock { $0.files["/run/main/realm.yaml"] }), file: "x")
        #expect(realm.status.resources == ["pids.max": "500"])
    }
}

@Suite("Resources: hand-edited records and absurd files")
struct HandEditedResourceTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    @Test("status.resources keys that name no file kuke writes are never read, reset or written, and do not trap")
    func unknownKeys() throws {
        let host = FakeHost(offered: ResourceTests.everything)
        let tests = ResourceTests()
        _ = try Engine(layout: layout, drivers: host.drivers).apply(tests.batch("memory: {max: 1Gi}"))
        var stored = try tests.record(host)
        stored.status.resources = [
            "memory.max": "1073741824", "": "1", " ": "1", "memory.max/../../../../etc/passwd": "x", "io.max": "rbps=1",
            "hugetlb.99999999999GB.max": "1",
        ]
        host.state.withLock { $0.files["/run/main/blog/space.yaml"] = RecordCodec.recordText(RecordCodec.value(of: stored)) }
        let before = host.state.withLock { $0.cgroupFiles }
        let outcomes = try Engine(layout: layout, drivers: host.drivers).apply(tests.batch(nil))
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        let after = host.state.withLock { $0.cgroupFiles }
        #expect(after["/cg/kukeon/main/blog/memory.max"] == "max\n", "the field kuke wrote is reset")
        #expect(Set(after.keys) == Set(before.keys), "no other file is written: \(Set(after.keys).subtracting(before.keys))")
        #expect(try tests.record(host).status.resources == nil)
    }

    @Test("kuke top reads absurd numbers in cgroup files without a trap")
    func absurdUsage() {
        let files = [
            "io.stat": "8:0 rbytes=18446744073709551615 wbytes=1\n8:16 rbytes=18446744073709551615 wbytes=18446744073709551615\n",
            "cpu.max": "1e300 1\n",
            "memory.max": "18446744073709551615\n",
        ]
        let usage = CgroupUsage { files[$0] }
        #expect(usage.ioReadBytes == UInt64.max && usage.ioWrittenBytes == UInt64.max, "summed with saturation")
        #expect(usage.cpuLimit == "1e+300")
        #expect(usage.memoryLimit == "16777216Ti")
        #expect(CgroupUsage.cpus(ofMax: "18446744073709551615 1") == "1.8446744073709552e+19")
        #expect(CgroupUsage.cpus(ofMax: "150000 100000") == "1.5" && CgroupUsage.cpus(ofMax: "200000 100000") == "2")
    }
}

@Suite("Resources: validation")
struct ResourceValidationTests {
    @Test(
        "bad quantities are refused with position and rule",
        arguments: [
            ("cpu: {max: lots}", 7, "spec.resources.cpu.max: \"lots\" is not a number of CPUs"),
            ("cpu: {max: 5m}", 7, "is below 10m"),
            ("cpu: {weight: 0}", 7, "spec.resources.cpu.weight: 0 is out of range 1...10000"),
            ("cpu: {weight: 10001}", 7, "out of range 1...10000"),
            ("memory: {max: 2Gb}", 7, "\"2Gb\" is not a quantity"),
            ("memory: {max: 500m}", 7, "\"500m\" is not a quantity"),
            ("memory: {high: 0.5}", 7, "is not a whole number of bytes"),
            ("memory: {max: true}", 7, "expected a quantity"),
            ("pids: {max: -1}", 7, "must not be negative"),
            ("io: {max: [{device: sda, rbps: 1Mi}]}", 7, "\"sda\" is not a block device number MAJ:MIN"),
            ("io: {max: [{rbps: 1Mi}]}", 7, "spec.resources.io.max[0].device is required"),
            ("hugetlb: [{pageSize: 2M, max: 4Mi}]", 7, "\"2M\" is not a huge page size"),
            ("hugetlb: [{pageSize: 2MB, max: 3Mi}]", 7, "is not a whole number of 2MB pages"),
        ])
    func bad(_ yaml: String, _ line: Int, _ message: String) {
        let text = "apiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec:\n  realmId: main\n  resources:\n    \(yaml)\n"
        let decoded = ManifestDecoder.decode(text, file: "blog.yaml")
        #expect(decoded.resources.isEmpty)
        let issue = decoded.issues.first
        #expect(issue?.message.contains(message) == true, "\(decoded.issues)")
        #expect(issue?.position.line == line && issue?.position.file == "blog.yaml", "\(decoded.issues)")
        #expect(issue?.rule == .fieldValue || issue?.rule == .fieldType || issue?.rule == .required)
    }

    @Test("quantities")
    func quantities() throws {
        #expect(try Quantity.bytes(.string("1Ki")).get() == 1024)
        #expect(try Quantity.bytes(.string("1k")).get() == 1000)
        #expect(try Quantity.bytes(.integer(7)).get() == 7)
        #expect(try Quantity.bytes(.string("max")).get() == nil)
        #expect(try Quantity.cpuMillis(.string("0.25")).get() == 250)
        #expect(try Quantity.cpuMillis(.string("1500m")).get() == 1500)
        #expect(Quantity.pageSizeBytes("1GB") == 1 << 30 && Quantity.pageSizeBytes("02MB") == nil)
    }
}

@Suite("Resources: usage for kuke top")
struct UsageTests {
    @Test("cpu.stat, memory.current, pids.current and io.stat are read; a missing file is nil")
    func parse() {
        let files = [
            "cpu.stat": "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
            "memory.current": "12582912\n",
            "io.stat": "8:0 rbytes=1048576 wbytes=2048 rios=10 wios=1 dbytes=0 dios=0\n8:16 rbytes=1024 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
            "cpu.max": "150000 100000\n",
            "memory.max": "max\n",
        ]
        let usage = CgroupUsage { files[$0] }
        #expect(usage.cpuMicroseconds == 1_500_000 && usage.memoryBytes == 12_582_912)
        #expect(usage.ioReadBytes == 1_049_600 && usage.ioWrittenBytes == 2048)
        #expect(usage.pids == nil && usage.pidsLimit == nil, "no pids controller: no file")
        #expect(usage.cpuLimit == "1.5" && usage.memoryLimit == "max")
        var later = usage
        later.cpuMicroseconds = 1_875_000
        #expect(CgroupUsage.cpuPercent(from: usage, to: later, seconds: 0.5) == "75%")
        #expect(CgroupUsage.bytes(12_582_912) == "12Mi" && CgroupUsage.bytes(1_610_612_736) == "1.5Gi" && CgroupUsage.bytes(900) == "900")
    }
}

/// Switching the cgroup driver (or root) under existing resources.
@Suite("Resources: a cgroup the settings moved")
struct CgroupMoveTests {
    @Test("a space whose recorded cgroup still exists fails CgroupMoved and nothing changes; once it is gone, the space moves")
    func driverSwitch() throws {
        let host = FakeHost(offered: ["memory", "pids"])
        let cgroupfs = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
        var systemd = cgroupfs
        systemd.cgroupDriver = .systemd
        let text =
            "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec: {realmId: main}\n"
        let resources = ManifestDecoder.decode(text, file: "x.yaml").resources
        _ = try Engine(layout: cgroupfs, drivers: host.drivers).apply(resources)
        let before = host.state.withLock { $0 }
        let outcomes = try Engine(layout: systemd, drivers: host.drivers).apply(resources)
        let realm = try #require(outcomes.first { $0.kind == .realm })
        #expect(realm.failure?.reason == .cgroupMoved, "\(outcomes)")
        #expect(realm.failure?.message.contains("/cg/kukeon/main") == true && realm.failure?.message.contains("kukeon-main.slice") == true)
        let space = try #require(outcomes.first { $0.name == "blog" })
        #expect(space.failure != nil)
        #expect(host.state.withLock { $0.cgroups } == before.cgroups, "no cgroup was made or removed")
        // A new space of the moved realm is not made beside it either.
        let shop = ManifestDecoder.decode(
            "apiVersion: v1beta1\nkind: Space\nmetadata: {name: shop}\nspec: {realmId: main}\n", file: "shop.yaml"
        ).resources
        let added = try Engine(layout: systemd, drivers: host.drivers).apply(shop)
        #expect(added.first?.failure?.reason == .cgroupMoved, "\(added)")
        #expect(host.state.withLock { $0.cgroups } == before.cgroups, "no cgroup was made for the new space")
        let deleted = try Engine(layout: systemd, drivers: host.drivers).delete([.space(SpaceID(realm: "main", name: "blog"))], cascade: false)
        #expect(deleted.first?.failure?.reason == .cgroupMoved, "\(deleted)")
        // The old cgroups gone (deleted by hand, say), the next pass makes the slices.
        host.state.withLock { state in
            for path in ["/cg/kukeon/main/blog", "/cg/kukeon/main"] { state.cgroups.removeValue(forKey: path) }
        }
        let moved = try Engine(layout: systemd, drivers: host.drivers).apply(resources)
        #expect(moved.allSatisfy { $0.failure == nil }, "\(moved)")
        #expect(host.state.withLock { $0.cgroups["/cg/kukeon.slice/kukeon-main.slice/kukeon-main-blog.slice"] } != nil)
    }
}
