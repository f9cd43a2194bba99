import Foundation
import Glibc

/// A throw-away host for kernel tests: its own network namespace (`ip netns`), its own
/// cgroup2 mount with a subtree of its own, and temp directories for the run path and
/// the CNI directory. Everything is removed by `cleanUp`, which `with` always calls.
public final class KernelSandbox {
    public let namespace: String
    public let directory: String
    public let cgroupMount: String
    public let cgroupRoot: String
    public let runPath: String
    public let cniDirectory: String
    /// CNI runtimes' state for the sandbox (libcni's `results/`, host-local's `networks/`): never the host's /var/lib/cni.
    public let cniStateDirectory: String
    public let kukeBinary: String

    /// Kernel tests run only as root with `KUKE_KERNEL_TESTS=1` (the README's test command sets it).
    public static var enabled: Bool {
        ProcessInfo.processInfo.environment["KUKE_KERNEL_TESTS"] == "1" && getuid() == 0
    }

    /// Why kernel tests are skipped, for the test's `.enabled(if:)` comment.
    public static let skipReason = "needs root and KUKE_KERNEL_TESTS=1 (run the README's test command)"

    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Runs `body` in a new sandbox and removes the sandbox afterwards, even when `body` throws.
    public static func with<T>(_ body: (KernelSandbox) throws -> T) throws -> T {
        let sandbox = try KernelSandbox()
        defer { sandbox.cleanUp() }
        return try body(sandbox)
    }

    init() throws {
        let token = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        namespace = "kuke-test-\(token)"
        directory = "/tmp/kuke-test-\(token)"
        cgroupMount = "\(directory)/cgroup"
        cgroupRoot = "\(cgroupMount)/kuke-test-\(token)"
        runPath = "\(directory)/run"
        cniDirectory = "\(directory)/cni"
        cniStateDirectory = "\(directory)/cni-state"
        kukeBinary = try Self.locateKuke()
        for path in [directory, cgroupMount, runPath, cniDirectory, cniStateDirectory] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        guard mount("none", cgroupMount, "cgroup2", 0, nil) == 0 else {
            throw SetupError(description: "mount -t cgroup2 at \(cgroupMount) failed: \(String(cString: strerror(errno)))")
        }
        guard mkdir(cgroupRoot, 0o755) == 0 else {
            throw SetupError(description: "mkdir \(cgroupRoot) failed: \(String(cString: strerror(errno)))")
        }
        let added = Subprocess.run(["ip", "netns", "add", namespace])
        guard added.status == 0 else { throw SetupError(description: "ip netns add failed: \(added)") }
        _ = Subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"])
    }

    /// The `kuke` next to the test binary, or `KUKE_BINARY`; never one found on PATH, which could
    /// be a stale install and would be tested instead of the build.
    public static func locateKuke() throws -> String {
        if let path = ProcessInfo.processInfo.environment["KUKE_BINARY"] { return path }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("kuke").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw SetupError(
            description: "no kuke binary next to the test binary \(CommandLine.arguments[0]): build it (swift build --build-tests) or set KUKE_BINARY"
        )
    }

    /// The environment that points kuke at this sandbox.
    public var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["KUKEON_RUN_PATH"] = runPath
        environment["KUKEON_CNI_CONFIG_DIR"] = cniDirectory
        environment["KUKEON_CGROUP_ROOT"] = cgroupRoot
        environment["KUKEON_CNI_STATE_DIR"] = cniStateDirectory
        environment["CNI_PATH"] = "/usr/lib/cni"
        environment["NO_COLOR"] = "1"
        return environment
    }

    /// Runs a command inside the sandbox's network namespace.
    public func run(_ arguments: [String], stdin: String? = nil) -> Subprocess.Result {
        Subprocess.run(["ip", "netns", "exec", namespace] + arguments, environment: environment, stdin: stdin)
    }

    /// Runs `kuke` inside the sandbox.
    public func kuke(_ arguments: String..., stdin: String? = nil) -> Subprocess.Result {
        run([kukeBinary] + arguments, stdin: stdin)
    }

    public func kuke(_ arguments: [String], stdin: String? = nil) -> Subprocess.Result {
        run([kukeBinary] + arguments, stdin: stdin)
    }

    /// Starts `kuke` in the background inside the sandbox (for `kuke watch`).
    public func startKuke(_ arguments: String...) -> Subprocess.Running? {
        Subprocess.start(["ip", "netns", "exec", namespace, kukeBinary] + arguments, environment: environment)
    }

    /// Links in the sandbox: name → kind (`bridge`, `veth`, or `` for none), from `ip -d -j link`.
    public func links() -> [String: String] {
        let result = Subprocess.run(["ip", "-n", namespace, "-d", "-j", "link", "show"])
        guard let data = result.stdout.data(using: .utf8),
            let array = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [:] }
        var links: [String: String] = [:]
        for link in array {
            guard let name = link["ifname"] as? String else { continue }
            links[name] = (link["linkinfo"] as? [String: Any])?["info_kind"] as? String ?? ""
        }
        return links
    }

    /// Writes a file in the sandbox's temp directory and returns its path.
    public func writeManifest(_ name: String, _ text: String) throws -> String {
        let path = "\(directory)/manifests/\(name)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Removes the cgroup subtree bottom-up, unmounts, deletes the namespace and the temp directory.
    public func cleanUp() {
        removeCgroupTree(cgroupRoot)
        umount2(cgroupMount, Int32(MNT_DETACH))
        _ = Subprocess.run(["ip", "netns", "del", namespace])
        try? FileManager.default.removeItem(atPath: directory)
    }

    func removeCgroupTree(_ path: String) {
        if let children = try? FileManager.default.contentsOfDirectory(atPath: path) {
            for child in children {
                var info = stat()
                let childPath = "\(path)/\(child)"
                if lstat(childPath, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { removeCgroupTree(childPath) }
            }
        }
        rmdir(path)
    }
}
