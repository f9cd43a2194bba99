import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import Testing

/// `kuke watch` as a subprocess in the sandbox, driven the way real tools change a directory.
/// Every wait is on a condition with a deadline.
@Suite("Kernel: watch", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct WatchKernelTests {
    static let realm = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"
    static func space(_ name: String, label: String = "one") -> String {
        "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: \(name)\n  labels: {rev: \(label)}\nspec: {realmId: main}\n"
    }

    func record(_ sandbox: KernelSandbox, _ name: String) -> SpaceRecord? {
        let path = "\(sandbox.runPath)/main/\(name)/space.yaml"
        return (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { try? RecordCodec.decodeSpace($0, file: path) }
    }

    func ready(_ sandbox: KernelSandbox, _ name: String, label: String? = nil) -> Bool {
        guard let record = record(sandbox, name), record.status.state == .ready else { return false }
        return label.map { record.metadata.labels["rev"] == $0 } ?? true
    }

    func write(_ path: String, _ text: String) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    @Test("add, edit in place, rename-over save, invalid then fixed, duplicate, orphan, bridge repair, SIGTERM")
    func directoryLifecycle() throws {
        try KernelSandbox.with { sandbox in
            let directory = "\(sandbox.directory)/watched"
            try FileManager.default.createDirectory(atPath: "\(directory)/nested", withIntermediateDirectories: true)
            try write("\(directory)/realm.yaml", Self.realm)
            try write("\(directory)/blog.yaml", Self.space("blog"))
            let watcher = try #require(sandbox.startKuke("watch", directory, "--resync", "1h"))
            #expect(Subprocess.waitUntil { ready(sandbox, "blog") }, "\(watcher.stderr)")

            // A file added in a new subdirectory (watched as it appears).
            try FileManager.default.createDirectory(atPath: "\(directory)/nested/deeper", withIntermediateDirectories: true)
            try write("\(directory)/nested/deeper/shop.yaml", Self.space("shop"))
            #expect(Subprocess.waitUntil { ready(sandbox, "shop") }, "\(watcher.stderr)")

            // Edit in place.
            try write("\(directory)/nested/deeper/shop.yaml", Self.space("shop", label: "two"))
            #expect(Subprocess.waitUntil { ready(sandbox, "shop", label: "two") }, "\(watcher.stderr)")

            // An editor's rename-over save (vim, sed -i): updated once.
            // The log line of that update comes after its record is written: wait for it before counting.
            #expect(Subprocess.waitUntil { watcher.stderr.contains("Space main/shop updated") }, "\(watcher.stderr)")
            let updatesBefore = watcher.stderr.components(separatedBy: "Space main/shop updated").count
            try write("\(directory)/nested/deeper/.shop.yaml.swp", "junk")
            try write("\(directory)/nested/deeper/shop.yaml~", "junk")
            try write("\(directory)/nested/deeper/sedAbC123", Self.space("shop", label: "three"))
            #expect(rename("\(directory)/nested/deeper/sedAbC123", "\(directory)/nested/deeper/shop.yaml") == 0)
            #expect(Subprocess.waitUntil { ready(sandbox, "shop", label: "three") }, "\(watcher.stderr)")
            // A later change to another file is processed after any duplicate work for the save would have been.
            try write("\(directory)/blog.yaml", Self.space("blog", label: "marker"))
            #expect(Subprocess.waitUntil { ready(sandbox, "blog", label: "marker") })
            #expect(watcher.stderr.components(separatedBy: "Space main/shop updated").count == updatesBefore + 1, "\(watcher.stderr)")

            // A managed bridge deleted by hand comes back without waiting for the resync (1h).
            #expect(sandbox.run(["ip", "link", "delete", "kuke-main-blog"]).status == 0)
            #expect(Subprocess.waitUntil(timeout: 5) { sandbox.links()["kuke-main-blog"] == "bridge" }, "\(watcher.stderr)")

            // Invalid: reported with its position; the space stays. Fixed: resumed.
            try write("\(directory)/blog.yaml", "kind: Space\nmetadata: {name: Blog_}\nspec: {realmId: main}\n")
            #expect(Subprocess.waitUntil { watcher.stderr.contains("blog.yaml:2:18: metadata.name") }, "\(watcher.stderr)")
            #expect(ready(sandbox, "blog"))
            try write("\(directory)/blog.yaml", Self.space("blog", label: "fixed"))
            #expect(Subprocess.waitUntil { ready(sandbox, "blog", label: "fixed") }, "\(watcher.stderr)")

            // Two files declaring one space: a conflict naming both, the space untouched.
            try write("\(directory)/copy.yaml", Self.space("blog", label: "copy"))
            #expect(Subprocess.waitUntil { watcher.stderr.contains("declared by more than one file") }, "\(watcher.stderr)")
            #expect(watcher.stderr.contains("copy.yaml"))
            #expect(ready(sandbox, "blog", label: "fixed"))
            #expect(unlink("\(directory)/copy.yaml") == 0)

            // A file moved out: the space is orphaned and left as it is (no --prune).
            #expect(rename("\(directory)/nested/deeper/shop.yaml", "\(sandbox.directory)/shop.yaml") == 0)
            #expect(Subprocess.waitUntil { watcher.stderr.contains("space main/shop is orphaned") }, "\(watcher.stderr)")
            #expect(ready(sandbox, "shop"))

            let started = Date()
            watcher.signal(SIGTERM)
            #expect(watcher.wait(timeout: 10) == 0, "\(watcher.stderr)")
            #expect(Date().timeIntervalSince(started) < 5)
        }
    }

    @Test("git-sync's symlink flip: the new revision's spaces appear, removed ones are pruned, an empty flip prunes nothing")
    func gitSyncFlip() throws {
        try KernelSandbox.with { sandbox in
            let root = "\(sandbox.directory)/git"
            for (revision, spaces) in [("rev-a", ["a", "b"]), ("rev-b", ["a", "c"]), ("rev-empty", [String]())] {
                let path = "\(root)/.worktrees/\(revision)"
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                try write("\(path)/realm.yaml", Self.realm)
                for name in spaces { try write("\(path)/\(name).yaml", Self.space(name)) }
            }
            try FileManager.default.createSymbolicLink(atPath: "\(root)/current", withDestinationPath: ".worktrees/rev-a")
            let watcher = try #require(sandbox.startKuke("watch", "\(root)/current", "--prune", "--prune-grace", "0s"))
            #expect(Subprocess.waitUntil { ready(sandbox, "a") && ready(sandbox, "b") }, "\(watcher.stderr)")

            func flip(to revision: String) throws {
                try FileManager.default.createSymbolicLink(atPath: "\(root)/.current.tmp", withDestinationPath: ".worktrees/\(revision)")
                #expect(rename("\(root)/.current.tmp", "\(root)/current") == 0)
            }
            try flip(to: "rev-b")
            #expect(Subprocess.waitUntil { ready(sandbox, "c") && record(sandbox, "b") == nil }, "\(watcher.stderr)")
            #expect(sandbox.links()["kuke-main-b"] == nil)
            #expect(ready(sandbox, "a"))

            try flip(to: "rev-empty")
            #expect(Subprocess.waitUntil { watcher.stderr.contains("refusing to prune") }, "\(watcher.stderr)")
            #expect(ready(sandbox, "a") && ready(sandbox, "c"))

            watcher.signal(SIGTERM)
            #expect(watcher.wait(timeout: 10) == 0)
        }
    }

    @Test("polling follows changes too; SIGHUP resyncs")
    func polling() throws {
        try KernelSandbox.with { sandbox in
            let directory = "\(sandbox.directory)/polled"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try write("\(directory)/realm.yaml", Self.realm)
            let watcher = try #require(sandbox.startKuke("watch", directory, "--poll", "100ms", "--log-format", "json", "--log-level", "debug"))
            try write("\(directory)/blog.yaml", Self.space("blog"))
            #expect(Subprocess.waitUntil { ready(sandbox, "blog") }, "\(watcher.stderr)")
            #expect(Subprocess.waitUntil { watcher.stderr.contains("\"driver\":\"bridge\"") }, "\(watcher.stderr)")  // logged after the pass
            // SIGHUP: a full resync (which repairs drift without a file change).
            #expect(sandbox.run(["ip", "link", "set", "kuke-main-blog", "down"]).status == 0)
            watcher.signal(SIGHUP)
            #expect(Subprocess.waitUntil { watcher.stderr.contains("\"reason\":\"SIGHUP\"") }, "\(watcher.stderr)")
            #expect(Subprocess.waitUntil { sandbox.run(["ip", "-br", "link", "show", "kuke-main-blog"]).stdout.contains("UP") })
            watcher.signal(SIGTERM)
            #expect(watcher.wait(timeout: 10) == 0)
        }
    }

    @Test("the unit file's ExecStart line runs the service: READY=1 after the first pass, STATUS=, WATCHDOG=1, STOPPING=1")
    func unitFile() throws {
        try KernelSandbox.with { sandbox in
            let directory = "\(sandbox.directory)/unit"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try write("\(directory)/realm.yaml", Self.realm)
            try write("\(directory)/blog.yaml", Self.space("blog"))

            // ExecStart as systemd would run it, with this sandbox's binary and directory.
            let unit = try String(contentsOfFile: "\(Self.repository)/manifests/kuke-watch.service", encoding: .utf8)
            let execStart = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
            let command = execStart.dropFirst("ExecStart=".count)
                .replacingOccurrences(of: "/usr/local/bin/kuke", with: sandbox.kukeBinary)
                .replacingOccurrences(of: "${KUKE_WATCH_DIR}", with: directory)
                .replacingOccurrences(of: "$KUKE_WATCH_FLAGS", with: "")
                .split(separator: " ").map(String.init)
            #expect(unit.contains("Type=notify"))

            let notifications = try NotifySocket(path: "\(sandbox.directory)/notify")
            let watcher = try #require(
                Subprocess.start(
                    ["ip", "netns", "exec", sandbox.namespace, "env", "NOTIFY_SOCKET=\(notifications.path)", "WATCHDOG_USEC=200000"] + command,
                    environment: sandbox.environment))
            #expect(Subprocess.waitUntil { notifications.received().contains { $0.contains("READY=1") } }, "\(watcher.stderr)")
            #expect(ready(sandbox, "blog"))  // READY=1 comes after the first full pass
            #expect(notifications.received().contains { $0.contains("STATUS=ready 2, failed 0, pending 0") }, "\(notifications.received())")
            #expect(Subprocess.waitUntil { notifications.received().contains("WATCHDOG=1") })
            watcher.signal(SIGTERM)
            #expect(watcher.wait(timeout: 10) == 0)
            #expect(notifications.received().contains("STOPPING=1"))
        }
    }

    /// The repository root, from this file's path.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

/// A datagram socket standing in for systemd's notify socket.
final class NotifySocket {
    let path: String
    let descriptor: Int32
    var messages: [String] = []

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw KernelSandbox.SetupError(description: "bind \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(descriptor) }

    /// Every message received so far.
    func received() -> [String] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            messages.append(String(decoding: buffer[0..<count], as: UTF8.self))
        }
        return messages
    }
}
