import Foundation
import KukeModel

/// Reads manifests from files, directories (recursive, `*.yaml`/`*.yml`, sorted) and stdin (`-`),
/// then decodes and validates the whole batch, collecting every issue.
public struct ManifestLoader: Sendable {
    /// Largest manifest file read; a bigger one is refused before parsing.
    public static let maximumFileSize = 4 << 20

    /// Reads standard input; injected so tests can supply it.
    public var readStandardInput: @Sendable () -> Data

    public init(readStandardInput: @escaping @Sendable () -> Data) {
        self.readStandardInput = readStandardInput
    }

    /// The manifest files a path names: the file itself, or every `*.yaml`/`*.yml` below a
    /// directory, sorted. Hidden entries (and so editor droppings like `.#x.yaml` or `.x.yaml.swp`)
    /// are skipped; symbolic links are followed (git-sync's `current -> rev` layout), each real
    /// directory once, so a link loop ends.
    public func files(for path: String) throws(ManifestIssue) -> [String] {
        if path == "-" { return ["-"] }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ManifestIssue(SourcePosition(file: path, line: 1, column: 1), .input, "no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        var found: [String] = []
        var visited = Set<String>()
        collect(directory: path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path, into: &found, visited: &visited)
        return found.sorted()
    }

    /// Whether a file name is one kuke reads as a manifest.
    public static func isManifestName(_ name: String) -> Bool {
        !name.hasPrefix(".") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
    }

    func collect(directory: String, into found: inout [String], visited: inout Set<String>) {
        let real = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        guard visited.insert(real).inserted, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where !name.hasPrefix(".") {
            let full = "\(directory)/\(name)"
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) else { continue }  // dangling link
            if isDirectory.boolValue {
                collect(directory: full, into: &found, visited: &visited)
            } else if Self.isManifestName(name) {
                found.append(full)
            }
        }
    }

    /// Loads, decodes and validates every resource under `paths`.
    public func load(_ paths: [String]) -> (resources: [Resource], issues: [ManifestIssue]) {
        var resources: [Resource] = []
        var issues: [ManifestIssue] = []
        for path in paths {
            let files: [String]
            do { files = try self.files(for: path) } catch {
                issues.append(error)
                continue
            }
            for file in files {
                switch readText(file) {
                case .failure(let issue): issues.append(issue)
                case .success(let text):
                    let decoded = ManifestDecoder.decode(text, file: file == "-" ? "<stdin>" : file)
                    resources += decoded.resources
                    issues += decoded.issues
                }
            }
        }
        issues += BatchValidator.duplicates(in: resources)
        return (resources, issues)
    }

    func readText(_ file: String) -> Result<String, ManifestIssue> {
        let name = file == "-" ? "<stdin>" : file
        let start = SourcePosition(file: name, line: 1, column: 1)
        let data: Data
        if file == "-" {
            data = readStandardInput()
            if data.count > Self.maximumFileSize {
                return .failure(ManifestIssue(start, .input, "input is \(data.count) bytes; manifests are limited to \(Self.maximumFileSize) bytes"))
            }
        } else {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file) else {
                return .failure(ManifestIssue(start, .input, "cannot read file"))
            }
            guard attributes[.type] as? FileAttributeType == .typeRegular else {
                return .failure(ManifestIssue(start, .input, "not a regular file"))
            }
            if let size = attributes[.size] as? Int, size > Self.maximumFileSize {
                return .failure(ManifestIssue(start, .input, "file is \(size) bytes; manifests are limited to \(Self.maximumFileSize) bytes"))
            }
            guard let contents = FileManager.default.contents(atPath: file) else {
                return .failure(ManifestIssue(start, .input, "cannot read file (permission denied?)"))
            }
            data = contents
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(ManifestIssue(start, .input, "not valid UTF-8 text"))
        }
        if let nul = text.utf8.firstIndex(of: 0) {
            let offset = text.utf8.distance(from: text.utf8.startIndex, to: nul)
            let prefix = text.utf8.prefix(offset)
            let line = prefix.filter { $0 == UInt8(ascii: "\n") }.count + 1
            let column = offset - (prefix.lastIndex(of: UInt8(ascii: "\n")).map { prefix.distance(from: prefix.startIndex, to: $0) + 1 } ?? 0) + 1
            return .failure(ManifestIssue(SourcePosition(file: name, line: line, column: column), .input, "contains a NUL byte"))
        }
        return .success(text)
    }
}
