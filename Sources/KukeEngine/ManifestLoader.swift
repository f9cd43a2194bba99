import Foundation
import KukeModel

/// Reads manifests from files, directories (recursive, `*.yaml`/`*.yml`, sorted) and stdin (`-`),
/// then decodes and validates the whole batch, collecting every issue.
public struct ManifestLoader: Sendable {
    /// Largest manifest file read; a bigger one is refused before parsing. 1 MiB holds
    /// thousands of spaces, and keeps the worst file kuke parses under half a second.
    public static let maximumFileSize = 1 << 20

    /// Reads standard input; injected so tests can supply it.
    public var readStandardInput: @Sendable () -> Data

    public init(readStandardInput: @escaping @Sendable () -> Data) {
        self.readStandardInput = readStandardInput
    }

    /// The manifest files a path names: the file itself, or every `*.yaml`/`*.yml` below a
    /// directory, sorted. Hidden entries (and so editor droppings like `.#x.yaml` or `.x.yaml.swp`)
    /// are skipped; symbolic links are followed (git-sync's `current -> rev` layout), each real
    /// directory once, so a link loop ends, but only while they stay inside the directory given:
    /// a link that leads outside it is refused, so a planted link cannot make kuke read (and
    /// apply) a file nobody put in the manifest directory.
    public func files(for path: String) throws(ManifestIssue) -> [String] {
        if path == "-" { return ["-"] }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ManifestIssue(SourcePosition(file: path, line: 1, column: 1), .input, "no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let root = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        var found: [String] = []
        var visited = Set<String>()
        try collect(directory: root, boundary: Self.realPath(root), into: &found, visited: &visited)
        return found.sorted()
    }

    /// Whether a file name is one kuke reads as a manifest.
    public static func isManifestName(_ name: String) -> Bool {
        !name.hasPrefix(".") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
    }

    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    func collect(directory: String, boundary: String, into found: inout [String], visited: inout Set<String>) throws(ManifestIssue) {
        let real = Self.realPath(directory)
        guard visited.insert(real).inserted, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names.sorted() where !name.hasPrefix(".") {
            let full = "\(directory)/\(name)"
            var info = stat()
            guard lstat(full, &info) == 0 else { continue }
            let isLink = info.st_mode & S_IFMT == S_IFLNK
            if isLink {
                guard stat(full, &info) == 0 else { continue }  // dangling link
                let target = Self.realPath(full)
                guard target == boundary || target.hasPrefix(boundary == "/" ? "/" : boundary + "/") else {
                    guard info.st_mode & S_IFMT == S_IFDIR || Self.isManifestName(name) else { continue }
                    throw ManifestIssue(
                        SourcePosition(file: full, line: 1, column: 1), .input,
                        "is a symbolic link to \(target), outside \(boundary); kuke reads only manifests inside the directories it is given")
                }
            }
            if info.st_mode & S_IFMT == S_IFDIR {
                try collect(directory: full, boundary: boundary, into: &found, visited: &visited)
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
        let data: [UInt8]
        if file == "-" {
            let input = readStandardInput()
            if input.count > Self.maximumFileSize {
                return .failure(ManifestIssue(start, .input, "input is \(input.count) bytes; manifests are limited to \(Self.maximumFileSize) bytes"))
            }
            data = Array(input)
        } else {
            switch Self.readRegularFile(file, limit: Self.maximumFileSize) {
            case .failure(let problem): return .failure(ManifestIssue(start, .input, problem.message))
            case .success(let bytes): data = bytes
            }
        }
        return Self.text(data, file: name)
    }

    /// The bytes of a regular file, read up to `limit` bytes; or why not. A FIFO, a device or a
    /// socket is refused without being opened for reading.
    static func readRegularFile(_ path: String, limit: Int) -> Result<[UInt8], ReadProblem> {
        // Located with O_PATH (which opens nothing: no FIFO blocks, no device acts), checked,
        // then opened for reading through that same descriptor.
        let located = open(path, Self.openPath | O_CLOEXEC)
        guard located >= 0 else { return .failure(ReadProblem("cannot open: \(String(cString: strerror(errno)))")) }
        defer { close(located) }
        var info = stat()
        guard fstat(located, &info) == 0 else { return .failure(ReadProblem("cannot stat: \(String(cString: strerror(errno)))")) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFIFO: return .failure(ReadProblem("is a FIFO, not a regular file"))
        case S_IFCHR, S_IFBLK: return .failure(ReadProblem("is a device, not a regular file"))
        case S_IFSOCK: return .failure(ReadProblem("is a socket, not a regular file"))
        default: return .failure(ReadProblem("is not a regular file"))
        }
        if Int(info.st_size) > limit { return .failure(ReadProblem("file is \(info.st_size) bytes; manifests are limited to \(limit) bytes")) }
        let fd = open("/proc/self/fd/\(located)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadProblem("cannot open: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var data: [UInt8] = []
        data.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadProblem("cannot read: \(String(cString: strerror(errno)))"))
            }
            if count == 0 { break }
            data.append(contentsOf: chunk[0..<count])
            if data.count > limit {
                return .failure(ReadProblem("file grew past \(limit) bytes while being read; manifests are limited to \(limit) bytes"))
            }
        }
        return .success(data)
    }

    /// `O_PATH` (Linux), which Glibc's Swift overlay does not export.
    static let openPath: Int32 = 0o1000_0000

    struct ReadProblem: Error {
        var message: String
        init(_ message: String) { self.message = message }
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
        let nul: Int? = data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, let found = memchr(base, 0, raw.count) else { return nil }
            return UnsafeRawPointer(found) - base
        }
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
