import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import Testing

/// `kuke watch` refuses a manifest directory others can write to (issue 10, part 7): exit 2
/// naming the path, its owner and mode and the fix, before anything is read or applied.
@Suite("Kernel: watch refuses an untrusted directory", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct WatchTrustKernelTests {
    /// Nothing was created: no record, conflist, cgroup, bridge or isolation table.
    func expectNothingCreated(_ sandbox: KernelSandbox, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: sandbox.runPath)) ?? []).isEmpty, sourceLocation: sourceLocation)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: sandbox.cniDirectory)) ?? []).isEmpty, sourceLocation: sourceLocation)
        #expect(!sandbox.exists("\(sandbox.cgroupRoot)/kukeon"), sourceLocation: sourceLocation)
        #expect(!sandbox.links().values.contains("bridge"), sourceLocation: sourceLocation)
        #expect(sandbox.run(["nft", "list", "table", "inet", "kukeon"]).status != 0, "no isolation table", sourceLocation: sourceLocation)
    }

    /// Starts `kuke watch directory` and waits for it to exit (killed after 10 s if it does not).
    func watch(_ sandbox: KernelSandbox, _ directory: String) throws -> (status: Int32, stderr: String) {
        let watcher = try #require(sandbox.startKuke("watch", directory, "--resync", "1h"))
        let status = watcher.wait(timeout: 10)
        return (status, watcher.stderr)
    }

    @Test("a 0777 directory, or a group-writable manifest in it, is refused with exit 2 and nothing is created; 0755 and 0644 start")
    func untrustedDirectoryRefused() throws {
        try KernelSandbox.with { sandbox in
            #expect(chmod(sandbox.directory, 0o755) == 0)
            let directory = "\(sandbox.directory)/manifests"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n".write(
                toFile: "\(directory)/realm.yaml", atomically: false, encoding: .utf8)
            try "apiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec: {realmId: main}\n".write(
                toFile: "\(directory)/blog.yaml", atomically: false, encoding: .utf8)
            #expect(chmod("\(directory)/realm.yaml", 0o644) == 0 && chmod("\(directory)/blog.yaml", 0o644) == 0)

            #expect(chmod(directory, 0o777) == 0)
            let open = try watch(sandbox, directory)
            #expect(open.status == 2, "\(open.stderr)")
            #expect(open.stderr.contains("refusing to watch \(directory)"), "\(open.stderr)")
            #expect(
                open.stderr.contains("\(directory): writable by group and others (owner root, mode 0777); fix: chmod go-w \(directory)"),
                "\(open.stderr)")
            expectNothingCreated(sandbox)

            #expect(chmod(directory, 0o755) == 0)
            #expect(chmod("\(directory)/blog.yaml", 0o664) == 0)
            let file = try watch(sandbox, directory)
            #expect(file.status == 2, "\(file.stderr)")
            #expect(file.stderr.contains("\(directory)/blog.yaml: writable by group (owner root, mode 0664); fix: chmod go-w \(directory)/blog.yaml"))
            expectNothingCreated(sandbox)

            // Fixed as the message says: the watcher starts and converges.
            #expect(chmod("\(directory)/blog.yaml", 0o644) == 0)
            let watcher = try #require(sandbox.startKuke("watch", directory, "--resync", "1h"))
            let record = "\(sandbox.runPath)/main/blog/space.yaml"
            #expect(
                Subprocess.waitUntil {
                    (try? String(contentsOfFile: record, encoding: .utf8)).flatMap { try? RecordCodec.decodeSpace($0, file: record) }?.status.state
                        == .ready
                }, "\(watcher.stderr)")
            watcher.signal(SIGTERM)
            #expect(watcher.wait(timeout: 10) == 0, "\(watcher.stderr)")
        }
    }
}
