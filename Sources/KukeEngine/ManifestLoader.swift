import Foundation
import KukeModel

/// Where manifests come from: the files a path names and the bytes of each. Implemented on the
/// filesystem in KukeHost (`LocalManifestSource`), in memory for tests; the core only decodes.
public protocol ManifestSource: Sendable {
    /// The manifest files a path names: the file itself, or every `*.yaml`/`*.yml` below a
    /// directory, sorted. Hidden entries (and so editor droppings like `.#x.yaml` or `.x.yaml.swp`)
    /// are skipped; symbolic links are followed (git-sync's `current -> rev` layout), each real
    /// directory once, so a link loop ends, but only while they stay inside the directory given:
    /// a link that leads outside it is refused, so a planted link cannot make kuke read (and
    /// apply) a file nobody put in the manifest directory.
    ///
    /// With `includingTransients`, also lists what stands where a manifest file could be but is
    /// not one now, so that reading it reports a transient problem: a dangling link named like a
    /// manifest, a directory named like one (still walked).
    func files(for path: String, includingTransients: Bool) throws(ManifestIssue) -> [String]
    /// The bytes of a regular file, at most `limit`; a FIFO, a device or a socket is refused
    /// without being opened for reading.
    func read(_ path: String, limit: Int) -> Result<[UInt8], ManifestReadProblem>
    /// `path` made absolute (against the working directory), `.` and `..` resolved by name.
    func absolutePath(_ path: String) -> String
}

extension ManifestSource {
    /// The manifest files a path names, without transients.
    public func files(for path: String) throws(ManifestIssue) -> [String] { try files(for: path, includingTransients: false) }
}

/// Why a manifest file could not be read (`is a FIFO, not a regular file`).
public struct ManifestReadProblem: Error, Sendable, Equatable {
    public var message: String
    /// What stands at the path is likely being replaced (a link whose target is gone, a directory,
    /// a file that vanished): reported under the `transient` rule.
    public var isTransient: Bool
    public init(_ message: String, isTransient: Bool = false) {
        self.message = message
        self.isTransient = isTransient
    }
}

/// Reads manifests from files, directories (recursive, `*.yaml`/`*.yml`, sorted) and stdin (`-`),
/// then decodes and validates the whole batch, collecting every issue.
public struct ManifestLoader: Sendable {
    /// Largest manifest file read; a bigger one is refused before parsing. 1 MiB holds
    /// thousands of spaces, and keeps the worst file kuke parses under half a second.
    public static let maximumFileSize = 1 << 20

    public var source: any ManifestSource
    /// Reads standard input; injected so tests can supply it.
    public var readStandardInput: @Sendable () -> Data
    /// Whether a file being replaced is an error (rule `transient`) rather than what it looks
    /// like: an empty or whitespace-only file declaring nothing, a dangling link or a directory
    /// named like a manifest passed over. Set where a missing declaration deletes (`--prune`).
    public var refusesTransients: Bool

    public init(source: any ManifestSource, readStandardInput: @escaping @Sendable () -> Data, refusesTransients: Bool = false) {
        self.source = source
        self.readStandardInput = readStandardInput
        self.refusesTransients = refusesTransients
    }

    /// The manifest files a path names (see `ManifestSource.files(for:)`); `-` is standard input.
    public func files(for path: String) throws(ManifestIssue) -> [String] {
        path == "-" ? ["-"] : try source.files(for: path, includingTransients: refusesTransients)
    }

    /// Whether a file name is one kuke reads as a manifest.
    public static func isManifestName(_ name: String) -> Bool {
        !name.hasPrefix(".") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
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
                let decoded = decode(file: file)
                resources += decoded.resources
                issues += decoded.issues
            }
        }
        issues += BatchValidator.duplicates(in: resources)
        return (resources, issues)
    }

    /// Loads, decodes and validates one listed manifest file (not a directory: the watcher reads
    /// the files `files(for:)` listed one by one).
    public func load(file: String) -> (resources: [Resource], issues: [ManifestIssue]) {
        let (resources, issues) = decode(file: file)
        return (resources, issues + BatchValidator.duplicates(in: resources))
    }

    func decode(file: String) -> (resources: [Resource], issues: [ManifestIssue]) {
        switch readText(file) {
        case .failure(let issue): return ([], [issue])
        case .success(let text):
            if refusesTransients, file != "-", let problem = Self.blankProblem(text) {
                return ([], [ManifestIssue(SourcePosition(file: file, line: 1, column: 1), .transient, problem)])
            }
            let decoded = ManifestDecoder.decode(text, file: file == "-" ? "<stdin>" : file)
            let absolute = file == "-" ? nil : source.absolutePath(file)
            return (decoded.resources.map { $0.readFrom(absolute) }, decoded.issues)
        }
    }

    /// Why a file's text is a transient (empty, or only whitespace: what `cp`, `scp` or
    /// `rsync --inplace` leave for a moment when they rewrite a file in place), or nil. A file
    /// meant to declare nothing says so with a comment.
    static func blankProblem(_ text: String) -> String? {
        guard text.allSatisfy(\.isWhitespace) else { return nil }
        let what = text.isEmpty ? "is empty" : "holds only whitespace"
        return "\(what) (a file being rewritten in place?); to declare nothing under --prune, delete it or leave a comment in it"
    }

    func readText(_ file: String) -> Result<String, ManifestIssue> {
        let name = file == "-" ? "<stdin>" : file
        let start = SourcePosition(file: name, line: 1, column: 1)
        let data: [UInt8]
        if file == "-" {
            let input = readStandardInput()
            if input.count > Self.maximumFileSize {
                return .failure(ManifestIssue(start, .input, "input is \(input.count) bytes; manifests are limited to \(Self.maximumFileSize) bytes"))
            }
            data = Array(input)
        } else {
            switch source.read(file, limit: Self.maximumFileSize) {
            case .failure(let problem): return .failure(ManifestIssue(start, problem.isTransient ? .transient : .input, problem.message))
            case .success(let bytes): data = bytes
            }
        }
        return Self.text(data, file: name)
    }

    /// Decodes the bytes of one manifest file the way `load` does (text checks, then YAML and
    /// schema); the fuzzer's entry point.
    public static func decode(bytes: [UInt8], file: String) -> (resources: [Resource], issues: [ManifestIssue]) {
        if bytes.count > maximumFileSize {
            return (
                [],
                [
                    ManifestIssue(
                        SourcePosition(file: file, line: 1, column: 1), .input,
                        "file is \(bytes.count) bytes; manifests are limited to \(maximumFileSize) bytes")
                ]
            )
        }
        switch text(bytes, file: file) {
        case .failure(let issue): return ([], [issue])
        case .success(let text): return ManifestDecoder.decode(text, file: file)
        }
    }

    /// The bytes as text: UTF-8 without NUL. A problem names the line and column of the first bad byte.
    static func text(_ data: [UInt8], file: String) -> Result<String, ManifestIssue> {
        func position(_ offset: Int) -> SourcePosition {
            let prefix = data[..<offset]
            let line = prefix.filter { $0 == UInt8(ascii: "\n") }.count + 1
            let lineStart = prefix.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            return SourcePosition(file: file, line: line, column: offset - lineStart + 1)
        }
        if data.starts(with: [0xFF, 0xFE]) || data.starts(with: [0xFE, 0xFF]) {
            return .failure(ManifestIssue(position(0), .input, "is UTF-16 text (byte order mark FF FE or FE FF); save it as UTF-8"))
        }
        let nul: Int? = data.withUnsafeBufferPointer { $0.firstIndex(of: 0) }
        if let nul { return .failure(ManifestIssue(position(nul), .input, "contains a NUL byte")) }
        if let text = String(validating: data, as: UTF8.self) { return .success(text) }
        // Invalid somewhere: find the first bad byte (the slow way, only for refused files).
        var iterator = data.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while case .valid(let encoded) = parser.parseScalar(from: &iterator) { offset += encoded.count }
        let byte = String(data[min(offset, data.count - 1)], radix: 16, uppercase: true)
        return .failure(ManifestIssue(position(offset), .input, "is not valid UTF-8 (byte 0x\(byte) at offset \(offset))"))
    }
}

extension Resource {
    /// The resource with its origin's absolute file set.
    func readFrom(_ absoluteFile: String?) -> Resource {
        switch self {
        case .realm(var realm):
            realm.origin.absoluteFile = absoluteFile
            return .realm(realm)
        case .space(var space):
            space.origin.absoluteFile = absoluteFile
            return .space(space)
        }
    }
}
