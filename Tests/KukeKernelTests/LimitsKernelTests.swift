import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import Testing

/// `spec.resources` on the real kernel. hugetlb is the one cgroup2 controller this machine kind
/// can enable (memory, cpu, io and pids are bound to cgroup v1 on its hybrid hierarchy): the test
/// enables it above its own subtree, as systemd's `Delegate=` would for a service, and takes it
/// back after. On a host where another controller is in cgroup2, the test enables it the same way
/// and asserts the written file instead of `ControllerUnavailable`: both branches assert.
@Suite("Kernel: resource limits in the space cgroup", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct LimitsKernelTests {
    static let realm = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"
    static func space(_ name: String, resources: String?) -> String {
        var text = "---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: \(name)}\nspec:\n  realmId: main\n"
        if let resources { text += "  resources:\n" + resources.split(separator: "\n").map { "    \($0)\n" }.joined() }
        return text
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    @discardableResult
    func write(_ value: String, _ path: String) -> Bool {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return Glibc.write(fd, value, value.utf8.count) == value.utf8.count
    }

    /// Enables `controllers` in the cgroup2 root's and the sandbox subtree's `cgroup.subtree_control`;
    /// the returned closure takes them back, deepest directory first.
    func delegate(_ controllers: [String], in sandbox: KernelSandbox) -> () -> Void {
        for directory in [sandbox.cgroupMount, sandbox.cgroupRoot] {
            for controller in controllers {
                #expect(write("+\(controller)", "\(directory)/cgroup.subtree_control"), "+\(controller) in \(directory)")
            }
        }
        return {
            var directories: [String] = []
            if let walker = FileManager.default.enumerator(atPath: sandbox.cgroupRoot) {
                for case let relative as String in walker where relative.hasSuffix("cgroup.subtree_control") {
                    directories.append("\(sandbox.cgroupRoot)/\((relative as NSString).deletingLastPathComponent)")
                }
            }
            for directory in directories.sorted(by: { $0.count > $1.count }) + [sandbox.cgroupMount] {
                for controller in controllers { self.write("-\(controller)", "\(directory)/cgroup.subtree_control") }
            }
        }
    }

    @Test("hugetlb: the enable chain, the written file, drift shown and restored, removal back to max, a hand-written file untouched")
    func hugetlb() throws {
        let rootControllers = read("/sys/fs/cgroup/unified/cgroup.controllers") ?? read("/sys/fs/cgroup/cgroup.controllers") ?? ""
        try #require(rootControllers.contains("hugetlb"), "this machine kind offers hugetlb in cgroup2")
        try #require(FileManager.default.fileExists(atPath: "/sys/kernel/mm/hugepages/hugepages-2048kB"))
        try KernelSandbox.with { sandbox in
            let undo = delegate(["hugetlb"], in: sandbox)
            defer { undo() }
            let limited = try sandbox.writeManifest(
                "limited.yaml", Self.realm + Self.space("blog", resources: "hugetlb: [{pageSize: 2MB, max: 4Mi}]"))
            let plain = try sandbox.writeManifest("plain.yaml", Self.realm + Self.space("blog", resources: nil))
            let applied = sandbox.kuke("apply", "-f", limited)
            #expect(applied.status == 0, "\(applied)")
            let space = "\(sandbox.cgroupRoot)/kukeon/main/blog"
            for level in ["\(sandbox.cgroupRoot)/kukeon", "\(sandbox.cgroupRoot)/kukeon/main"] {
                #expect(read("\(level)/cgroup.subtree_control")?.contains("hugetlb") == true, "enabled in \(level)")
            }
            #expect(read("\(space)/hugetlb.2MB.max") == "4194304\n")
            let record = read("\(sandbox.runPath)/main/blog/space.yaml") ?? ""
            #expect(record.contains("resources:\n    hugetlb.2MB.max: '4194304'") || record.contains("hugetlb.2MB.max: \"4194304\""), "\(record)")

            // A value an operator writes by hand in a file kuke never wrote survives everything below.
            let handWritten = "\(sandbox.cgroupRoot)/kukeon/main/hugetlb.2MB.max"
            #expect(write("8388608", handWritten))

            // Drift: shown by diff, restored by apply.
            #expect(write("2097152", "\(space)/hugetlb.2MB.max"))
            let diff = sandbox.kuke("diff", "-f", limited)
            #expect(diff.status == 1 && diff.stdout.contains("-2097152") && diff.stdout.contains("+4194304"), "\(diff)")
            #expect(sandbox.kuke("apply", "-f", limited).status == 0)
            #expect(read("\(space)/hugetlb.2MB.max") == "4194304\n")

            // The field removed: the file returns to the kernel default.
            let removed = sandbox.kuke("apply", "-f", plain)
            #expect(removed.status == 0 && removed.stdout.contains("write hugetlb.2MB.max max"), "\(removed)")
            #expect(read("\(space)/hugetlb.2MB.max") == "max\n")
            #expect(read(handWritten) == "8388608\n", "the hand-written value survived")

            // A page size the kernel does not offer fails at apply time.
            let huge = try sandbox.writeManifest("huge.yaml", Self.realm + Self.space("blog", resources: "hugetlb: [{pageSize: 16GB, max: 16Gi}]"))
            let refused = sandbox.kuke("apply", "-f", huge)
            #expect(refused.status == 1 && refused.stdout.contains("ControllerUnavailable") && refused.stdout.contains("16GB"), "\(refused)")
            #expect(sandbox.kuke("delete", "-f", plain).status == 0)
        }
    }

    @Test("memory, cpu, io and pids: ControllerUnavailable where cgroup2 lacks them (the other parts converged), the written files where it has them")
    func otherControllers() throws {
        let rootControllers = Set(
            (read("/sys/fs/cgroup/unified/cgroup.controllers") ?? read("/sys/fs/cgroup/cgroup.controllers") ?? "").split(
                whereSeparator: { $0 == " " || $0 == "\n" }
            ).map(String.init))
        try KernelSandbox.with { sandbox in
            let wanted = ["memory", "cpu", "io", "pids"]
            let present = wanted.filter(rootControllers.contains)
            let undo = delegate(present, in: sandbox)
            defer { undo() }
            let resources = "memory: {max: 1Gi}\ncpu: {max: 500m}\nio: {weight: 200}\npids: {max: 64}"
            let manifest = try sandbox.writeManifest("lab.yaml", Self.realm + Self.space("lab", resources: resources))
            let result = sandbox.kuke("apply", "-f", manifest)
            let space = "\(sandbox.cgroupRoot)/kukeon/main/lab"
            #expect(sandbox.links()["kuke-main-lab"] == "bridge", "the other parts converged: \(result)")
            #expect(sandbox.exists("\(sandbox.cniDirectory)/main-lab.conflist"))
            let expected = ["memory": ("memory.max", "1073741824\n"), "cpu": ("cpu.max", "50000 100000\n"), "pids": ("pids.max", "64\n")]
            for controller in wanted {
                if present.contains(controller) {
                    if let (file, value) = expected[controller] { #expect(read("\(space)/\(file)") == value, "\(file)") }
                    if controller == "io" { #expect(read("\(space)/io.weight")?.hasPrefix("default 200") == true) }
                } else {
                    #expect(result.stdout.contains("\(controller) is not in the cgroup2 hierarchy"), "\(controller): \(result)")
                }
            }
            #expect(result.status == (present.count == wanted.count ? 0 : 1), "\(result)")
            if present.count < wanted.count {
                let record = read("\(sandbox.runPath)/main/lab/space.yaml") ?? ""
                #expect(record.contains("reason: ControllerUnavailable"), "\(record)")
            }
            #expect(sandbox.kuke("delete", "-f", manifest).status == 0)
        }
    }

    @Test(
        "kuke top spaces shows each space's usage beside its limits, - where a controller is not there; get -o wide shows the limits, * on those not held"
    )
    func top() throws {
        let rootControllers = Set(
            (read("/sys/fs/cgroup/unified/cgroup.controllers") ?? read("/sys/fs/cgroup/cgroup.controllers") ?? "").split(
                whereSeparator: { $0 == " " || $0 == "\n" }
            ).map(String.init))
        try KernelSandbox.with { sandbox in
            let present = ["memory", "cpu", "pids"].filter(rootControllers.contains)
            let undo = delegate(present, in: sandbox)
            defer { undo() }
            let manifest = try sandbox.writeManifest(
                "top.yaml", Self.realm + Self.space("blog", resources: "cpu: {max: 500m}\nmemory: {max: 1Gi}") + Self.space("shop", resources: nil))
            _ = sandbox.kuke("apply", "-f", manifest)
            let top = sandbox.kuke("top", "spaces", "--realm", "main", "--interval", "0.2")
            #expect(top.status == 0, "\(top)")
            let lines = top.stdout.split(separator: "\n")
            #expect(
                lines.first?.split(separator: " ", omittingEmptySubsequences: true) == [
                    "NAME", "REALM", "CPU", "CPU-LIMIT", "MEMORY", "MEMORY-LIMIT", "PIDS", "PIDS-LIMIT", "IO-READ", "IO-WRITE",
                ])
            let blog = lines.first { $0.hasPrefix("blog ") }.map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) } ?? []
            #expect(blog.count == 10, "\(top)")
            if blog.count == 10 {
                // cpu.stat is a core file of every cgroup2 directory: CPU use shows without the cpu controller.
                #expect(blog[2].hasSuffix("%") && blog[3] == (present.contains("cpu") ? "0.5" : "-"), "\(blog)")
                #expect(present.contains("memory") ? blog[5] == "1Gi" : blog[4] == "-" && blog[5] == "-", "\(blog)")
                #expect(present.contains("pids") ? blog[6] != "-" : blog[6] == "-", "\(blog)")
            }
            let wide = sandbox.kuke("get", "spaces", "-o", "wide")
            let row = wide.stdout.split(separator: "\n").first { $0.hasPrefix("blog ") }.map {
                $0.split(separator: " ", omittingEmptySubsequences: true)
            }
            // A limit the kernel does not hold (its controller missing here: the space is Failed) is marked `*`, with a warning.
            let held = present.contains("cpu") && present.contains("memory")
            #expect(row?[5] == (held ? "500m" : "500m*") && row?[6] == (held ? "1Gi" : "1Gi*"), "\(wide)")
            #expect(wide.stderr.contains("warning: * marks a declared limit the kernel does not hold: main/blog") == !held, "\(wide)")
            let shop = wide.stdout.split(separator: "\n").first { $0.hasPrefix("shop ") }.map {
                $0.split(separator: " ", omittingEmptySubsequences: true)
            }
            #expect(shop?[5] == "-" && shop?[6] == "-", "\(wide)")
            #expect(sandbox.kuke("delete", "-f", manifest).status == 0)
        }
    }
}
