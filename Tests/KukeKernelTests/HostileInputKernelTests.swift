import Foundation
import KukeTestSupport
import Testing

/// The committed hostile corpus (`Tests/Fixtures/hostile`, written by its `generate.py`) and
/// inputs that cannot be committed (a FIFO, a device, links leading out of the directory):
/// each is refused with a message naming the file and the rule, within 1 s of CPU and 100 MB,
/// and nothing changes on disk or in the kernel.
@Suite("Kernel: hostile input", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct HostileInputKernelTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hostile").path

    static var hostileFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: corpus)) ?? []).filter { $0.hasSuffix(".yaml") && !$0.hasPrefix("valid-") }.sorted()
    }

    /// Runs `kuke apply -f path` and checks the refusal: exit 2, the file named, a rule in
    /// brackets or the empty-batch message, bounded CPU and memory, nothing changed.
    @discardableResult
    func expectRefused(_ sandbox: KernelSandbox, _ path: String, named: String? = nil) -> Subprocess.Result {
        let result = sandbox.kuke("apply", "-f", path)
        let name = named ?? path
        #expect(result.status == 2, "\(name): \(result)")
        #expect(result.stdout.isEmpty, "\(name): \(result)")
        #expect(result.stderr.contains(name) && result.stderr.contains("nothing was changed"), "\(name): \(result)")
        let rule = result.stderr.range(of: #"\[[a-z-]+\]"#, options: .regularExpression) != nil || result.stderr.contains("no Realm or Space")
        #expect(rule, "\(name): the message names the rule broken: \(result.stderr)")
        #expect(result.cpuSeconds < 1, "\(name): \(result.cpuSeconds) s of CPU")
        #expect(result.maxResidentKiB < 100 * 1024, "\(name): \(result.maxResidentKiB) KiB resident")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: sandbox.runPath)) ?? []).isEmpty, "\(name): the run path stays empty")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: sandbox.cniDirectory)) ?? []).isEmpty, "\(name): no conflist")
        #expect(!sandbox.links().values.contains("bridge"), "\(name): no bridge")
        return result
    }

    @Test("every file of the committed corpus is refused, bounded, changing nothing")
    func corpusRefused() throws {
        let files = Self.hostileFiles
        #expect(files.count >= 30, "the corpus is there: \(Self.corpus)")
        try KernelSandbox.with { sandbox in
            var worst = (cpu: 0.0, rss: 0, file: "")
            for file in files {
                let result = expectRefused(sandbox, "\(Self.corpus)/\(file)")
                if result.cpuSeconds > worst.cpu { worst = (result.cpuSeconds, max(worst.rss, result.maxResidentKiB), file) }
                worst.rss = max(worst.rss, result.maxResidentKiB)
            }
            #expect(sandbox.run(["nft", "list", "table", "inet", "kukeon"]).status != 0, "no isolation table")
            print("hostile corpus: \(files.count) files refused; most CPU \(worst.cpu) s (\(worst.file)); peak RSS \(worst.rss / 1024) MiB")
        }
    }

    @Test("a FIFO, a device, and links that lead out of the manifest directory are refused without being read")
    func specialFiles() throws {
        try KernelSandbox.with { sandbox in
            let directory = "\(sandbox.directory)/special"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let fifo = "\(directory)/fifo.yaml"
            #expect(mkfifo(fifo, 0o644) == 0)
            #expect(expectRefused(sandbox, fifo).stderr.contains("is a FIFO"))
            #expect(expectRefused(sandbox, directory, named: fifo).stderr.contains("is a FIFO"))
            try FileManager.default.removeItem(atPath: fifo)

            #expect(expectRefused(sandbox, "/dev/zero").stderr.contains("is a device"))

            // A valid manifest outside the directory, reached by a link inside it.
            let outside = try sandbox.writeManifest("outside.yaml", "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n")
            try FileManager.default.createSymbolicLink(atPath: "\(directory)/escape.yaml", withDestinationPath: outside)
            #expect(expectRefused(sandbox, directory, named: "\(directory)/escape.yaml").stderr.contains("outside"))
            try FileManager.default.removeItem(atPath: "\(directory)/escape.yaml")
            try FileManager.default.createSymbolicLink(atPath: "\(directory)/dev.yaml", withDestinationPath: "/dev/zero")
            #expect(expectRefused(sandbox, directory, named: "\(directory)/dev.yaml").stderr.contains("outside"))
            try FileManager.default.removeItem(atPath: "\(directory)/dev.yaml")
            try FileManager.default.createSymbolicLink(atPath: "\(directory)/up", withDestinationPath: "..")
            #expect(expectRefused(sandbox, directory, named: "\(directory)/up").stderr.contains("outside"))
        }
    }
}
