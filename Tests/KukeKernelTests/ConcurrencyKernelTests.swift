import Foundation
import KukeHost
import KukeModel
import KukeTestSupport
import Testing

/// Many kuke processes at once on a real kernel: they take turns through the host lock.
@Suite("Kernel: concurrency", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct ConcurrencyKernelTests {
    static func space(_ index: Int) -> String {
        "---\napiVersion: v1beta1\nkind: Space\nmetadata:\n  name: s\(index)\n  labels: {n: \"\(index)\"}\nspec:\n  realmId: main\n"
    }

    static let realm = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"

    @Test("8 applies over overlapping manifests and a watcher: every space once, with its own subnet and bridge; every file parses")
    func eightAppliesAndAWatcher() throws {
        try KernelSandbox.with { sandbox in
            // Apply i declares s(i) … s(i+3) of s0 … s11; the watcher declares s8 … s13.
            var paths: [String] = []
            for index in 0..<8 {
                let text = Self.realm + (index..<index + 4).map { Self.space($0 % 12) }.joined()
                paths.append(try sandbox.writeManifest("apply-\(index).yaml", text))
            }
            let watched = "\(sandbox.directory)/watched"
            try FileManager.default.createDirectory(atPath: watched, withIntermediateDirectories: true)
            try (Self.realm + (8..<14).map(Self.space).joined()).write(toFile: "\(watched)/spaces.yaml", atomically: true, encoding: .utf8)
            guard let watcher = sandbox.startKuke("watch", watched, "--log-format", "json") else {
                Issue.record("kuke watch did not start")
                return
            }
            defer {
                watcher.signal(SIGTERM)
                _ = watcher.wait(timeout: 10)
            }
            let applies = paths.compactMap { sandbox.startKuke("apply", "-f", $0) }
            #expect(applies.count == 8)
            for (index, apply) in applies.enumerated() {
                #expect(apply.wait(timeout: 120) == 0, "apply \(index): \(apply.stderr)")
            }
            let expected = Set((0..<14).map { "s\($0)" })
            #expect(
                Subprocess.waitUntil(timeout: 30) {
                    let listed = sandbox.kuke("get", "spaces", "-o", "json")
                    let names = (try? JSONParser.parse(listed.stdout)["items"]?.arrayValue ?? [])?.compactMap { $0["metadata"]?["name"]?.stringValue }
                    return Set(names ?? []) == expected
                }, "\(watcher.stderr)")

            let listed = sandbox.kuke("get", "spaces", "-o", "json")
            #expect(listed.status == 0 && listed.stderr.isEmpty, "every record parses: \(listed)")
            let records = try JSONParser.parse(listed.stdout)["items"]?.arrayValue ?? []
            #expect(records.count == 14)
            #expect(records.allSatisfy { $0["status"]?["state"]?.stringValue == "Ready" }, "\(listed.stdout)")
            let subnets = records.compactMap { $0["status"]?["network"]?["subnet"]?.stringValue }
            let bridges = records.compactMap { $0["status"]?["network"]?["bridge"]?.stringValue }
            #expect(Set(subnets).count == 14 && subnets.count == 14, "no two spaces share a subnet: \(subnets)")
            #expect(Set(bridges).count == 14 && bridges.count == 14, "no two spaces share a bridge: \(bridges)")
            #expect(Set(sandbox.links().filter { $0.value == "bridge" }.keys) == Set(bridges))
            for record in records {
                guard let path = record["status"]?["network"]?["conflistPath"]?.stringValue else { continue }
                let text = try String(contentsOfFile: path, encoding: .utf8)
                #expect((try? JSONParser.parse(text)) != nil, "\(path) parses")
            }
            for index in 0..<12 {
                let labels = records.first { $0["metadata"]?["name"]?.stringValue == "s\(index)" }?["metadata"]?["labels"]
                #expect(labels?["n"]?.stringValue == "\(index)")
            }
        }
    }

    @Test("an apply waits for the host lock; with --lock-timeout it gives up with a message naming the lock, changing nothing")
    func lockWait() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("one.yaml", Self.realm + Self.space(1))
            let held = try FlockHostLock(path: "\(sandbox.runPath)/.kuke.lock").acquire(timeout: 1)
            let refused = sandbox.kuke("apply", "-f", path, "--lock-timeout", "0.3")
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("\(sandbox.runPath)/.kuke.lock") && refused.stderr.contains("lock"), "\(refused)")
            #expect(!FileManager.default.fileExists(atPath: "\(sandbox.runPath)/main"), "nothing was written")

            guard let waiting = sandbox.startKuke("apply", "-f", path) else {
                Issue.record("kuke apply did not start")
                return
            }
            usleep(300_000)
            #expect(!FileManager.default.fileExists(atPath: "\(sandbox.runPath)/main/s1/space.yaml"), "still waiting")
            held.release()
            #expect(waiting.wait(timeout: 30) == 0, "\(waiting.stderr)")
            #expect(FileManager.default.fileExists(atPath: "\(sandbox.runPath)/main/s1/space.yaml"))
        }
    }
}
