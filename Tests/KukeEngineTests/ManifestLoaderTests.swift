import Foundation
import KukeHost
import KukeModel
import KukeTestSupport
import Testing

@testable import KukeEngine

@Suite("Manifest loader")
struct ManifestLoaderTests {
    @Test("the loader works on any ManifestSource: a directory's files decoded in order, duplicates across files found, the absolute path recorded")
    func memorySource() {
        let source = MemoryManifestSource([
            "m/a.yaml": "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n",
            "m/b.yaml": "apiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec: {realmId: main}\n",
            "m/.hidden/c.yaml": "kind: Nope\n",
            "m/copy.yml": "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n",
        ])
        let loader = ManifestLoader(source: source, readStandardInput: { Data() })
        let (resources, issues) = loader.load(["m"])
        #expect(resources.map(\.displayName) == ["main", "main/blog", "main"])
        #expect(resources.first?.origin.absoluteFile == "/work/m/a.yaml")
        #expect(issues.map(\.description) == ["m/copy.yml:3:18: Realm \"main\" is declared twice; first at m/a.yaml:3:18 [duplicate]"])
    }

    @Test("directories are read recursively, *.yaml and *.yml only, sorted, hidden entries skipped")
    func directories() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-loader-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["b", "a/deep", ".git"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
        }
        for file in ["z.yaml", "b/x.yml", "a/deep/y.yaml", ".hidden.yaml", ".git/config.yaml", "readme.md", "a/notes.yaml.swp"] {
            try "".write(toFile: "\(root)/\(file)", atomically: true, encoding: .utf8)
        }
        let files = try ManifestLoader.local(readStandardInput: { Data() }).files(for: root)
        #expect(files == ["\(root)/a/deep/y.yaml", "\(root)/b/x.yml", "\(root)/z.yaml"])
    }

    @Test("a file that is not text or not regular is refused with its name")
    func refusals() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-loader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data([0x6B, 0x3A, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: "\(root)/binary.yaml"))
        try Data("kind: Space\nmetadata:\n  name: a\u{0}b\n".utf8).write(to: URL(fileURLWithPath: "\(root)/nul.yaml"))
        let (_, issues) = ManifestLoader.local(readStandardInput: { Data() }).load([root, "/dev/null"])
        #expect(issues.map(\.description).contains("\(root)/binary.yaml:1:3: is not valid UTF-8 (byte 0xFF at offset 2) [input]"))
        #expect(issues.map(\.description).contains("\(root)/nul.yaml:3:10: contains a NUL byte [input]"))
        #expect(issues.map(\.description).contains("/dev/null:1:1: is a device, not a regular file [input]"))
    }
}

@Suite("Manifest loader: transients")
struct ManifestLoaderTransientTests {
    @Test(
        "refusing transients (--prune): empty, whitespace only, a dangling link, a directory named like a manifest are errors of rule transient; a file of comments declares nothing; without --prune they pass as before"
    )
    func transients() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-transient-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/dir.yaml", withIntermediateDirectories: true)
        try "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: inner}\n".write(
            toFile: "\(root)/dir.yaml/inner.yaml", atomically: true, encoding: .utf8)
        try "".write(toFile: "\(root)/empty.yaml", atomically: true, encoding: .utf8)
        try " \n  \n".write(toFile: "\(root)/blank.yml", atomically: true, encoding: .utf8)
        try "# nothing here on purpose\n".write(toFile: "\(root)/comment.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: "\(root)/link.yaml", withDestinationPath: "missing.yaml")
        try FileManager.default.createSymbolicLink(atPath: "\(root)/notes.txt", withDestinationPath: "missing.txt")

        let strict = ManifestLoader.local(readStandardInput: { Data() }, refusingTransients: true)
        let (resources, issues) = strict.load([root])
        #expect(resources.map(\.displayName) == ["inner"], "a directory named like a manifest is still walked")
        #expect(
            issues.map(\.description) == [
                "\(root)/blank.yml:1:1: holds only whitespace (a file being rewritten in place?); to declare nothing under --prune, delete it or leave a comment in it [transient]",
                "\(root)/dir.yaml:1:1: is a directory where a manifest file is expected (a file being replaced?) [transient]",
                "\(root)/empty.yaml:1:1: is empty (a file being rewritten in place?); to declare nothing under --prune, delete it or leave a comment in it [transient]",
                "\(root)/link.yaml:1:1: is a symbolic link to missing.yaml, which does not exist (a link being replaced?) [transient]",
            ])

        let lenient = ManifestLoader.local(readStandardInput: { Data() })
        #expect(try lenient.files(for: root) == ["\(root)/blank.yml", "\(root)/comment.yaml", "\(root)/dir.yaml/inner.yaml", "\(root)/empty.yaml"])
        let (same, none) = lenient.load([root])
        #expect(same.map(\.displayName) == ["inner"])
        #expect(none.isEmpty, "\(none)")
    }
}

@Suite("Manifest loader: hostile twins")
struct ManifestLoaderTwinTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hostile").path

    @Test("every hostile file is refused in-process with issues that have positions; the overflows at their value, field-value")
    func everyHostileFile() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus).filter { $0.hasSuffix(".yaml") && !$0.hasPrefix("valid-") }
        #expect(files.count >= 40)
        // No manifest at all: the CLI refuses the empty batch ("no Realm or Space manifests found").
        let empty = ["empty.yaml", "only-comments.yaml"]
        for file in files.sorted() where !empty.contains(file) {
            let path = "\(Self.corpus)/\(file)"
            let (_, issues) = ManifestLoader.local(readStandardInput: { Data() }).load([path])
            #expect(!issues.isEmpty, "\(file): no issue")
            for issue in issues { #expect(issue.position.file == path && issue.position.line >= 1 && issue.position.column >= 1, "\(issue)") }
            if file.hasPrefix("overflow-") {
                #expect(issues.count == 1 && issues.first?.rule == .fieldValue && issues.first?.position.line == 8, "\(issues)")
            }
        }
    }

    @Test("a byte order mark or CRLF line ends apply exactly like the plain twin", arguments: ["valid-bom", "valid-crlf", "valid-bom-crlf"])
    func twins(_ name: String) throws {
        let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
        func records(_ file: String) throws -> [String: String] {
            let path = "\(Self.corpus)/\(file).yaml"
            let (resources, issues) = ManifestLoader.local(readStandardInput: { Data() }).load([path])
            #expect(issues.isEmpty, "\(issues)")
            let host = FakeHost(firewall: true)
            let outcomes = try Engine(layout: layout, drivers: host.drivers, clock: { Date(timeIntervalSince1970: 1_800_000_000) }).apply(resources)
            #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
            var files = host.state.withLock { $0.files }
            for (key, text) in files { files[key] = text.replacingOccurrences(of: path, with: "SOURCE") }
            files["firewall"] = host.state.withLock { $0.firewallScript }
            return files
        }
        let plain = try records("valid-plain")
        #expect(plain.count >= 5, "realm, space, conflist, copy and table: \(plain.keys.sorted())")
        #expect(try records(name) == plain)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(Self.corpus)/\(name).yaml"))
        #expect(
            name.contains("bom") == bytes.starts(with: [0xEF, 0xBB, 0xBF]) && name.contains("crlf") == bytes.contains(0x0D),
            "the twin is what it says")
    }
}

@Suite("Manifest loader: links")
struct ManifestLoaderLinkTests {
    @Test("symbolic links to directories are followed (git-sync's current -> revision), loops end")
    func symlinks() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-links-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/.worktrees/rev-a/sub", withIntermediateDirectories: true)
        try "".write(toFile: "\(root)/.worktrees/rev-a/sub/s.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: "\(root)/current", withDestinationPath: ".worktrees/rev-a")
        try FileManager.default.createSymbolicLink(atPath: "\(root)/.worktrees/rev-a/loop", withDestinationPath: "..")
        #expect(try ManifestLoader.local(readStandardInput: { Data() }).files(for: root) == ["\(root)/current/sub/s.yaml"])
    }
}
