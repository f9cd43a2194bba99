import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import Testing

/// Issue 21, item 4 on the real kernel with a real cell: under `kuke watch --prune --cascade`, a
/// manifest being replaced (truncated in place as `cp` does, swapped for a dangling link, gone
/// for a moment) changes nothing of its space, and a real removal is pruned only after the grace.
@Suite("Kernel: prune never acts on a transient", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct PruneTransientKernelTests {
    static let realm = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"
    static func space(_ name: String) -> String {
        "apiVersion: v1beta1\nkind: Space\nmetadata: {name: \(name)}\nspec: {realmId: main}\n"
    }

    func record(_ sandbox: KernelSandbox, _ name: String) -> SpaceRecord? {
        let path = "\(sandbox.runPath)/main/\(name)/space.yaml"
        return (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { try? RecordCodec.decodeSpace($0, file: path) }
    }

    /// The bridge's interface index (`ip -n NS -j link show kuke-main-NAME`): a bridge deleted and made again has a new one.
    func bridgeIndex(_ sandbox: KernelSandbox, _ name: String) -> Int? {
        let shown = Subprocess.run(["ip", "-n", sandbox.namespace, "-j", "link", "show", "kuke-main-\(name)"])
        guard shown.status == 0, case .array(let links)? = try? JSONParser.parse(shown.stdout), let index = links.first?["ifindex"] else {
            return nil
        }
        if case .number(let value) = index { return Int(value) }
        return nil
    }

    func hasInterface(_ cell: Cell) -> Bool {
        Subprocess.run(["ip", "-n", cell.namespace, "link", "show", "eth0"]).status == 0
    }

    @Test(
        "--prune --cascade --prune-grace 3s: truncated then rewritten in place, a dangling link, gone for a second: same bridge, same createdAt, the cell keeps its interface and reaches its gateway; a real removal is pruned after the grace",
        .enabled(if: KernelSandbox.hasBridgePlugin, "needs containernetworking-plugins in /usr/lib/cni"))
    func transientsKeepTheCell() throws {
        try KernelSandbox.with { sandbox in
            let directory = "\(sandbox.directory)/watched"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = "\(directory)/blog.yaml"
            try Self.realm.write(toFile: "\(directory)/00-realm.yaml", atomically: true, encoding: .utf8)
            try Self.space("shop").write(toFile: "\(directory)/shop.yaml", atomically: true, encoding: .utf8)
            try Self.space("blog").write(toFile: path, atomically: true, encoding: .utf8)
            let watcher = try #require(
                sandbox.startKuke("watch", directory, "--prune", "--cascade", "--prune-grace", "3s", "--resync", "1h"))
            defer { watcher.signal(SIGTERM) }
            #expect(
                Subprocess.waitUntil { record(sandbox, "blog")?.status.state == .ready && record(sandbox, "shop")?.status.state == .ready },
                "\(watcher.stderr)")
            let name = "kuke-cell-blog-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
            defer { _ = Subprocess.run(["ip", "netns", "del", name]) }
            let cell = try sandbox.attach(space: "blog", cell: name)
            #expect(ping(cell, cell.gateway))
            let createdAt = try #require(record(sandbox, "blog")?.status.createdAt)
            let index = try #require(bridgeIndex(sandbox, "blog"))

            func unchanged(_ moment: String, sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(record(sandbox, "blog")?.status.createdAt == createdAt, "\(moment): \(watcher.stderr)", sourceLocation: sourceLocation)
                #expect(bridgeIndex(sandbox, "blog") == index, "\(moment): the same bridge", sourceLocation: sourceLocation)
                #expect(hasInterface(cell) && ping(cell, cell.gateway), "\(moment): the cell is attached", sourceLocation: sourceLocation)
                #expect(!watcher.stderr.contains("Space main/blog deleted"), "\(moment): \(watcher.stderr)", sourceLocation: sourceLocation)
            }

            // cp over the file: truncated in place, left empty past the grace, then written.
            #expect(truncate(path, 0) == 0)
            #expect(Subprocess.waitUntil { watcher.stderr.contains("\(path):1:1: is empty") }, "\(watcher.stderr)")
            Thread.sleep(forTimeInterval: 4)
            unchanged("empty for 4 s")
            try Self.space("blog").write(toFile: path, atomically: false, encoding: .utf8)
            #expect(Subprocess.waitUntil { watcher.stderr.contains("manifest is valid again") }, "\(watcher.stderr)")
            unchanged("rewritten")

            // A link swapped in whose target does not exist yet.
            try FileManager.default.createSymbolicLink(atPath: "\(directory)/.blog.tmp", withDestinationPath: "revisions/blog.yaml")
            #expect(rename("\(directory)/.blog.tmp", path) == 0)
            #expect(Subprocess.waitUntil { watcher.stderr.contains("\(path):1:1: is a symbolic link to revisions/blog.yaml, which does not exist") })
            Thread.sleep(forTimeInterval: 4)
            unchanged("a dangling link for 4 s")
            try Self.space("blog").write(toFile: "\(directory)/.blog.new", atomically: false, encoding: .utf8)
            #expect(rename("\(directory)/.blog.new", path) == 0)
            #expect(Subprocess.waitUntil { watcher.stderr.components(separatedBy: "manifest is valid again").count == 3 }, "\(watcher.stderr)")
            unchanged("a file again")
            #expect(watcher.stderr.components(separatedBy: "[transient]; what it declared is kept").count == 3, "one warning per transient")

            // Removed, then back within the grace (rm, then cp).
            #expect(unlink(path) == 0)
            #expect(Subprocess.waitUntil { watcher.stderr.contains("(main/blog) gone for less than --prune-grace 3s") }, "\(watcher.stderr)")
            try Self.space("blog").write(toFile: path, atomically: false, encoding: .utf8)
            #expect(Subprocess.waitUntil { watcher.stderr.contains("prune no longer held") }, "\(watcher.stderr)")
            Thread.sleep(forTimeInterval: 4)
            unchanged("back within the grace")

            // Removed for real: pruned once the grace is over, with its cell's interface (--cascade).
            let removed = Date()
            #expect(unlink(path) == 0)
            Thread.sleep(forTimeInterval: 1.5)
            #expect(record(sandbox, "blog") != nil && hasInterface(cell), "within the grace: \(watcher.stderr)")
            #expect(Subprocess.waitUntil { record(sandbox, "blog") == nil }, "\(watcher.stderr)")
            #expect(Date().timeIntervalSince(removed) >= 3, "not before the grace")
            #expect(bridgeIndex(sandbox, "blog") == nil && !hasInterface(cell))
            #expect(record(sandbox, "shop")?.status.state == .ready)
            watcher.signal(SIGTERM)
            #expect(watcher.wait(timeout: 10) == 0, "\(watcher.stderr)")
        }
    }
}
