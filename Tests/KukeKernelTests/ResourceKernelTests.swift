import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import Testing

/// Exhausted resources, refusals of the kernel, planted links and lost records, on a real
/// kernel and real filesystems: each is reported for the resource it hits, and what was
/// there before stays intact.
@Suite("Kernel: resources, path safety and adoption", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct ResourceKernelTests {
    static let realm = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"
    static func space(_ name: String, label: String = "one") -> String {
        "---\napiVersion: v1beta1\nkind: Space\nmetadata:\n  name: \(name)\n  labels: {l: \(label)}\nspec:\n  realmId: main\n"
    }

    func hiddenFiles(_ directory: String) -> [String] {
        var found: [String] = []
        if let walker = FileManager.default.enumerator(atPath: directory) {
            for case let path as String in walker
            where (path as NSString).lastPathComponent.hasPrefix(".") && path != ".kuke.lock" && path != ".kuke.table" {
                found.append(path)
            }
        }
        return found
    }

    @Test("ENOSPC and a read-only filesystem: the write fails with the errno, the previous record stays intact, no temp file is left")
    func fullAndReadOnly() throws {
        try KernelSandbox.with { sandbox in
            #expect(mount("tmpfs", sandbox.runPath, "tmpfs", 0, "size=256k") == 0, "mount tmpfs: \(String(cString: strerror(errno)))")
            defer { umount2(sandbox.runPath, Int32(MNT_DETACH)) }
            let first = try sandbox.writeManifest("one.yaml", Self.realm + Self.space("blog"))
            #expect(sandbox.kuke("apply", "-f", first).status == 0)
            let record = "\(sandbox.runPath)/main/blog/space.yaml"
            let before = try String(contentsOfFile: record, encoding: .utf8)

            // Fill the filesystem.
            let filler = "\(sandbox.runPath)/filler"
            let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
            let block = [UInt8](repeating: 0, count: 4096)
            while write(fd, block, block.count) > 0 {}
            close(fd)
            let changed = try sandbox.writeManifest("two.yaml", Self.realm + Self.space("blog", label: "two"))
            let full = sandbox.kuke("apply", "-f", changed)
            #expect(full.status == 1, "\(full)")
            #expect(full.stdout.contains("Space \"main/blog\": failed: MetadataWriteFailed") && full.stdout.contains("(ENOSPC)"), "\(full)")
            #expect(try String(contentsOfFile: record, encoding: .utf8) == before, "the previous record is intact")
            #expect(hiddenFiles(sandbox.runPath).isEmpty, "\(hiddenFiles(sandbox.runPath))")
            unlink(filler)

            // Read-only.
            #expect(mount("tmpfs", sandbox.runPath, "tmpfs", UInt(MS_REMOUNT | MS_RDONLY), "size=256k") == 0, "\(String(cString: strerror(errno)))")
            let readOnly = sandbox.kuke("apply", "-f", changed)
            #expect(readOnly.status == 1 && (readOnly.stdout + readOnly.stderr).contains("(EROFS)"), "\(readOnly)")
            #expect(try String(contentsOfFile: record, encoding: .utf8) == before)
            #expect(mount("tmpfs", sandbox.runPath, "tmpfs", UInt(MS_REMOUNT), "size=256k") == 0)
            let recovered = sandbox.kuke("apply", "-f", changed)
            #expect(recovered.status == 0 && recovered.stdout.contains("Space \"main/blog\": updated"), "\(recovered)")
        }
    }

    @Test("a full subnet pool, the kernel refusing bridges (no CAP_NET_ADMIN) and a busy cgroup are reported per resource")
    func refusals() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("two.yaml", Self.realm + Self.space("a") + Self.space("b"))
            let pool = sandbox.kuke("apply", "-f", path, "--subnet-pool", "10.99.0.0/24")
            #expect(pool.status == 1, "\(pool)")
            #expect(
                pool.stdout.contains("Space \"main/a\": created") && pool.stdout.contains("Space \"main/b\": failed: SubnetPoolExhausted"), "\(pool)")

            let other = try sandbox.writeManifest("other.yaml", Self.realm + Self.space("c"))
            let denied = sandbox.run(["setpriv", "--bounding-set", "-net_admin", sandbox.kukeBinary, "apply", "-f", other])
            #expect(denied.status == 1, "\(denied)")
            #expect(denied.stdout.contains("Space \"main/c\": failed: BridgeFailed") && denied.stdout.contains("EPERM"), "\(denied)")
            #expect(denied.stdout.contains("Realm \"main\": unchanged"), "the realm is unaffected: \(denied)")
            #expect(sandbox.links()["kuke-main-c"] == nil)
            #expect(sandbox.kuke("apply", "-f", other).status == 0, "with the capability back, the same apply completes")

            // A process in the space's cgroup: delete refuses before changing anything.
            guard let sleeper = Subprocess.start(["sleep", "60"]) else {
                Issue.record("sleep did not start")
                return
            }
            defer { sleeper.signal(SIGKILL) }
            try "\(sleeper.pid)".write(toFile: "\(sandbox.cgroupRoot)/kukeon/main/c/cgroup.procs", atomically: false, encoding: .utf8)
            let busy = sandbox.kuke("delete", "space", "c", "--realm", "main")
            #expect(busy.status == 1 && busy.stdout.contains("CgroupBusy"), "\(busy)")
            #expect(sandbox.links()["kuke-main-c"] == "bridge", "the bridge is kept")
            #expect(FileManager.default.fileExists(atPath: "\(sandbox.cniDirectory)/main-c.conflist"))
            sleeper.signal(SIGKILL)
            _ = sleeper.wait(timeout: 5)
            #expect(Subprocess.waitUntil(timeout: 5) { sandbox.kuke("delete", "space", "c", "--realm", "main").status == 0 })
        }
    }

    @Test("links planted inside kuke's trees never redirect a write; cgroup2 refuses links altogether")
    func plantedLinks() throws {
        try KernelSandbox.with { sandbox in
            let victim = "\(sandbox.directory)/victim"
            try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
            try "victim\n".write(toFile: "\(victim)/file", atomically: true, encoding: .utf8)

            // The realm's directory is a link to elsewhere.
            try FileManager.default.createSymbolicLink(atPath: "\(sandbox.runPath)/main", withDestinationPath: victim)
            let path = try sandbox.writeManifest("one.yaml", Self.realm + Self.space("blog"))
            let redirected = sandbox.kuke("apply", "-f", path)
            #expect(redirected.status == 1 && redirected.stdout.contains("is a symbolic link"), "\(redirected)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: victim) == ["file"], "nothing was written through the link")
            try FileManager.default.removeItem(atPath: "\(sandbox.runPath)/main")

            // The conflist's path is a link to a file elsewhere.
            try FileManager.default.createSymbolicLink(atPath: "\(sandbox.cniDirectory)/main-blog.conflist", withDestinationPath: "\(victim)/file")
            let conflist = sandbox.kuke("apply", "-f", path)
            #expect(
                conflist.status == 1 && conflist.stdout.contains("ConflistReadFailed") && conflist.stdout.contains("symbolic link"), "\(conflist)")
            #expect(try String(contentsOfFile: "\(victim)/file", encoding: .utf8) == "victim\n")
            try FileManager.default.removeItem(atPath: "\(sandbox.cniDirectory)/main-blog.conflist")
            #expect(sandbox.kuke("apply", "-f", path).status == 0)

            // The record's copy of the conflist replaced by a link: the write replaces the link, never the target.
            let copy = "\(sandbox.runPath)/main/blog/network.conflist"
            try FileManager.default.removeItem(atPath: copy)
            try FileManager.default.createSymbolicLink(atPath: copy, withDestinationPath: "\(victim)/file")
            let repaired = sandbox.kuke("apply", "-f", path)
            #expect(repaired.status == 1 || repaired.status == 0, "\(repaired)")
            #expect(try String(contentsOfFile: "\(victim)/file", encoding: .utf8) == "victim\n", "the link's target is untouched")

            #expect(repaired.stdout.contains("is a symbolic link"), "a link in the record directory is reported, not followed: \(repaired)")
            try FileManager.default.removeItem(atPath: copy)

            // A FIFO where a record belongs: that record is unreadable, the pass goes on for the others.
            try FileManager.default.createDirectory(atPath: "\(sandbox.runPath)/main/ghost", withIntermediateDirectories: true)
            #expect(mkfifo("\(sandbox.runPath)/main/ghost/space.yaml", 0o644) == 0)
            let fifo = sandbox.kuke("apply", "-f", path)
            #expect(fifo.stdout.contains("Space \"main/blog\": unchanged") || fifo.stdout.contains("Space \"main/blog\": updated"), "\(fifo)")
            #expect(fifo.stdout.contains("FirewallFailed") && fifo.stdout.contains("ghost/space.yaml"), "\(fifo)")
            let listed = sandbox.kuke("get", "spaces")
            #expect(listed.status == 0 && listed.stderr.contains("ghost/space.yaml: is not a regular file"), "\(listed)")
            try FileManager.default.removeItem(atPath: "\(sandbox.runPath)/main/ghost")

            // cgroup2 (kernfs) does not let anyone make a link, so none can be planted there.
            #expect(symlink(victim, "\(sandbox.cgroupRoot)/kukeon/planted") != 0)
        }
    }

    @Test("a space whose record was lost adopts its conflist and bridge: same subnet, same bridge")
    func adoption() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("two.yaml", Self.realm + Self.space("a") + Self.space("b"))
            #expect(sandbox.kuke("apply", "-f", path).status == 0)
            let index = Subprocess.run(["ip", "-n", sandbox.namespace, "-j", "link", "show", "kuke-main-b"]).stdout
            try FileManager.default.removeItem(atPath: "\(sandbox.runPath)/main/b")
            let adopted = sandbox.kuke("apply", "-f", path)
            #expect(adopted.status == 0 && adopted.stdout.contains("Space \"main/b\": created"), "\(adopted)")
            #expect(Subprocess.run(["ip", "-n", sandbox.namespace, "-j", "link", "show", "kuke-main-b"]).stdout == index, "the same bridge")
            let record = try String(contentsOfFile: "\(sandbox.runPath)/main/b/space.yaml", encoding: .utf8)
            #expect(record.contains("subnet: 10.88.1.0/24"), "\(record)")
            #expect(sandbox.kuke("diff", "-f", path).status == 0)
        }
    }
}
