import KukeEngine
import KukeModel

/// Manifests held in memory, for loader tests that need no filesystem: a path is a file when
/// `files` has it, a directory when some file is below it.
public struct MemoryManifestSource: ManifestSource {
    public var files: [String: [UInt8]]

    public init(_ files: [String: String]) {
        self.files = files.mapValues { Array($0.utf8) }
    }

    /// A memory source has no links or directories standing for files: `includingTransients` lists nothing more.
    public func files(for path: String, includingTransients: Bool) throws(ManifestIssue) -> [String] {
        if files[path] != nil { return [path] }
        let below = files.keys.filter { $0.hasPrefix(path + "/") && ManifestLoader.isManifestName(String($0.split(separator: "/").last ?? "")) }
        guard !below.isEmpty else { throw ManifestIssue(SourcePosition(file: path, line: 1, column: 1), .input, "no such file or directory") }
        return below.filter { !$0.dropFirst(path.count).contains("/.") }.sorted()
    }

    public func read(_ path: String, limit: Int) -> Result<[UInt8], ManifestReadProblem> {
        guard let bytes = files[path] else { return .failure(ManifestReadProblem("cannot open: No such file or directory")) }
        return bytes.count > limit
            ? .failure(ManifestReadProblem("file is \(bytes.count) bytes; manifests are limited to \(limit) bytes")) : .success(bytes)
    }

    public func absolutePath(_ path: String) -> String { path.hasPrefix("/") ? path : "/work/\(path)" }
}
