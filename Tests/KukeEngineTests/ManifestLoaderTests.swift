import Foundation
import KukeModel
import Testing

@testable import KukeEngine

@Suite("Manifest loader")
struct ManifestLoaderTests {
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
        let files = try ManifestLoader(readStandardInput: { Data() }).files(for: root)
        #expect(files == ["\(root)/a/deep/y.yaml", "\(root)/b/x.yml", "\(root)/z.yaml"])
    }

    @Test("a file that is not text or not regular is refused with its name")
    func refusals() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-loader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data([0x6B, 0x3A, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: "\(root)/binary.yaml"))
        try Data("kind: Space\nmetadata:\n  name: a\u{0}b\n".utf8).write(to: URL(fileURLWithPath: "\(root)/nul.yaml"))
        let (_, issues) = ManifestLoader(readStandardInput: { Data() }).load([root, "/dev/null"])
        #expect(issues.map(\.description).contains("\(root)/binary.yaml:1:1: not valid UTF-8 text [input]"))
        #expect(issues.map(\.description).contains("\(root)/nul.yaml:3:10: contains a NUL byte [input]"))
        #expect(issues.map(\.description).contains("/dev/null:1:1: not a regular file [input]"))
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
        #expect(try ManifestLoader(readStandardInput: { Data() }).files(for: root) == ["\(root)/current/sub/s.yaml"])
    }
}
