import Foundation
import Glibc
import Testing

@testable import KukeWatch

/// `kuke watch`'s StrictModes, on temp directories: who can write to a manifest directory,
/// its tree and the path to it.
@Suite("Watch: manifest directory trust")
struct ManifestDirectoryTrustTests {
    /// A fresh 0755 directory under the temp directory, removed by the caller.
    func makeBase() throws -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-trust-\(UUID().uuidString)").path
        try make(base, 0o755)
        return base
    }

    func make(_ path: String, _ mode: mode_t) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        #expect(chmod(path, mode) == 0)
    }

    func write(_ path: String, _ mode: mode_t = 0o644) throws {
        try "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(chmod(path, mode) == 0)
    }

    var me: String { ManifestDirectoryTrust.Inspector.userName(geteuid()) }

    @Test("a 0777 directory is refused, naming the path, its owner and mode, and the chmod that fixes it")
    func worldWritable() throws {
        let base = try makeBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let manifests = "\(base)/manifests"
        try make(manifests, 0o777)
        let problems = ManifestDirectoryTrust.problems(in: [manifests])
        #expect(problems.map(\.description) == ["\(manifests): writable by group and others (owner \(me), mode 0777); fix: chmod go-w \(manifests)"])
        #expect(throws: ManifestDirectoryTrust.Refusal.self) { try ManifestDirectoryTrust.check([manifests]) }
        #expect(chmod(manifests, 0o775) == 0)
        #expect(
            ManifestDirectoryTrust.problems(in: [manifests]).map(\.description) == [
                "\(manifests): writable by group (owner \(me), mode 0775); fix: chmod go-w \(manifests)"
            ])
    }

    @Test("a 0755 directory with 0644 manifests is accepted")
    func accepted() throws {
        let base = try makeBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let manifests = "\(base)/manifests"
        try make("\(manifests)/nested", 0o755)
        #expect(chmod(manifests, 0o755) == 0)
        try write("\(manifests)/realm.yaml")
        try write("\(manifests)/nested/blog.yml", 0o600)
        #expect(ManifestDirectoryTrust.problems(in: [manifests]).isEmpty)
        try ManifestDirectoryTrust.check([manifests, "\(manifests)/nested"])
    }

    @Test("a sticky 1777 directory above a 0755 one is fine; a 0777 one without the sticky bit is not")
    func stickyParent() throws {
        let base = try makeBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let shared = "\(base)/shared"
        try make("\(shared)/manifests", 0o755)
        #expect(chmod(shared, 0o1777) == 0)
        #expect(ManifestDirectoryTrust.problems(in: ["\(shared)/manifests"]).isEmpty)

        #expect(chmod(shared, 0o777) == 0)
        #expect(
            ManifestDirectoryTrust.problems(in: ["\(shared)/manifests"]).map(\.description) == [
                "\(shared): a directory above \(shared)/manifests, writable by group and others without the sticky bit (owner \(me), mode 0777); "
                    + "fix: chmod go-w \(shared)"
            ])

        // The watched directory itself is not excused by the sticky bit: anyone may add a manifest to it.
        #expect(chmod(shared, 0o1777) == 0)
        #expect(ManifestDirectoryTrust.problems(in: [shared]).map(\.kind) == [.writable])
    }

    @Test("a group-writable manifest or directory inside is refused; other files and hidden entries are not read, so not checked")
    func inside() throws {
        let base = try makeBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let manifests = "\(base)/manifests"
        try make("\(manifests)/nested", 0o755)
        try make("\(manifests)/.git", 0o777)
        try write("\(manifests)/realm.yaml")
        try write("\(manifests)/nested/blog.yaml", 0o664)
        try write("\(manifests)/notes.txt", 0o666)
        #expect(
            ManifestDirectoryTrust.problems(in: [manifests]).map(\.description) == [
                "\(manifests)/nested/blog.yaml: writable by group (owner \(me), mode 0664); fix: chmod go-w \(manifests)/nested/blog.yaml"
            ])
        #expect(chmod("\(manifests)/nested/blog.yaml", 0o644) == 0)
        #expect(chmod("\(manifests)/nested", 0o757) == 0)
        #expect(ManifestDirectoryTrust.problems(in: [manifests]).map(\.path) == ["\(manifests)/nested"])
    }

    @Test("git-sync's current link: the link's directory chain and the target's are both checked")
    func gitSyncLink() throws {
        let base = try makeBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let root = "\(base)/git"
        try make("\(root)/.worktrees/rev-a", 0o755)
        try write("\(root)/.worktrees/rev-a/realm.yaml")
        try FileManager.default.createSymbolicLink(atPath: "\(root)/current", withDestinationPath: ".worktrees/rev-a")
        #expect(ManifestDirectoryTrust.problems(in: ["\(root)/current"]).isEmpty)

        // Whoever can write the link's directory can point the link elsewhere.
        #expect(chmod(root, 0o777) == 0)
        #expect(ManifestDirectoryTrust.problems(in: ["\(root)/current"]).map(\.path) == [root])
        #expect(chmod(root, 0o755) == 0)

        // The target's own chain, and the target, are checked by their real paths.
        #expect(chmod("\(root)/.worktrees", 0o777) == 0)
        #expect(ManifestDirectoryTrust.problems(in: ["\(root)/current"]).map(\.path) == ["\(root)/.worktrees"])
        #expect(chmod("\(root)/.worktrees", 0o755) == 0)
        #expect(chmod("\(root)/.worktrees/rev-a/realm.yaml", 0o666) == 0)
        #expect(ManifestDirectoryTrust.problems(in: ["\(root)/current"]).map(\.path) == ["\(root)/.worktrees/rev-a/realm.yaml"])
    }

    @Test("the traversal follows each link through its own directory, then its target's, as the kernel resolves it")
    func traversal() throws {
        let base = try makeBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try make("\(base)/real/dir", 0o755)
        try FileManager.default.createSymbolicLink(atPath: "\(base)/hop", withDestinationPath: "\(base)/real")
        try FileManager.default.createSymbolicLink(atPath: "\(base)/link", withDestinationPath: "hop/./dir/../dir")
        let (directories, target) = ManifestDirectoryTrust.traversal(of: "\(base)/link")
        #expect(target == "\(base)/real/dir")
        let parents = base.split(separator: "/").indices.map { "/" + base.split(separator: "/")[...$0].joined(separator: "/") }
        #expect(directories == ["/"] + parents.dropLast() + [base, "\(base)/real"])
        #expect(ManifestDirectoryTrust.traversal(of: "\(base)/missing/x").target == nil)
    }

    @Test("a path owned by another user is refused with the chown that fixes it", .enabled(if: geteuid() == 0, "chown needs root"))
    func foreignOwner() throws {
        let base = try makeBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let manifests = "\(base)/manifests"
        try make(manifests, 0o755)
        try write("\(manifests)/realm.yaml")
        #expect(chown("\(manifests)/realm.yaml", 4242, 4242) == 0)
        let uid4242 = ManifestDirectoryTrust.Inspector.userName(4242)
        #expect(
            ManifestDirectoryTrust.problems(in: [manifests]).map(\.description) == [
                "\(manifests)/realm.yaml: owned by \(uid4242), not by root or the user kuke runs as (owner \(uid4242), mode 0644); "
                    + "fix: chown root \(manifests)/realm.yaml"
            ])
    }

    @Test("the refusal lists ten problems and counts the rest")
    func manyProblems() throws {
        let base = try makeBase()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let manifests = "\(base)/manifests"
        try make(manifests, 0o755)
        for index in 0..<12 { try write("\(manifests)/space-\(index).yaml", 0o666) }
        #expect(throws: ManifestDirectoryTrust.Refusal.self) { try ManifestDirectoryTrust.check([manifests]) }
        do {
            try ManifestDirectoryTrust.check([manifests])
        } catch {
            let lines = error.description.split(separator: "\n")
            #expect(lines.first?.hasPrefix("refusing to watch \(manifests): whoever can write there controls this host's networks as root") == true)
            #expect(lines.count == 12)
            #expect(lines.last == "  … and 2 more (chmod -R go-w \(manifests) fixes a whole tree)")
        }
    }
}
