import CKukeSys
import Foundation
import Glibc
import KukeEngine
import KukeModel

/// `ManifestSource` on the local filesystem: directories walked recursively (links followed,
/// each real directory once, never outside the directory given) and each file read with the
/// safe reader (`RegularFile`), so a FIFO, a device or a socket is refused unopened.
public struct LocalManifestSource: ManifestSource {
    public init() {}

    public func files(for path: String, includingTransients: Bool) throws(ManifestIssue) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ManifestIssue(SourcePosition(file: path, line: 1, column: 1), .input, "no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let root = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        var found: [String] = []
        var visited = Set<String>()
        try collect(directory: root, boundary: Self.realPath(root), transients: includingTransients, into: &found, visited: &visited)
        return found.sorted()
    }

    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    func collect(directory: String, boundary: String, transients: Bool, into found: inout [String], visited: inout Set<String>)
        throws(ManifestIssue)
    {
        let real = Self.realPath(directory)
        guard visited.insert(real).inserted, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names.sorted() where !name.hasPrefix(".") {
            let full = "\(directory)/\(name)"
            var info = stat()
            guard lstat(full, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFLNK {
                guard stat(full, &info) == 0 else {  // dangling: listed only as a transient (reading it says so)
                    if transients && ManifestLoader.isManifestName(name) { found.append(full) }
                    continue
                }
                let target = Self.realPath(full)
                guard target == boundary || target.hasPrefix(boundary == "/" ? "/" : boundary + "/") else {
                    guard info.st_mode & S_IFMT == S_IFDIR || ManifestLoader.isManifestName(name) else { continue }
                    throw ManifestIssue(
                        SourcePosition(file: full, line: 1, column: 1), .input,
                        "is a symbolic link to \(target), outside \(boundary); kuke reads only manifests inside the directories it is given")
                }
            }
            if info.st_mode & S_IFMT == S_IFDIR {
                if transients && ManifestLoader.isManifestName(name) { found.append(full) }  // where a manifest file was?
                try collect(directory: full, boundary: boundary, transients: transients, into: &found, visited: &visited)
            } else if ManifestLoader.isManifestName(name) {
                found.append(full)
            }
        }
    }

    public func read(_ path: String, limit: Int) -> Result<[UInt8], ManifestReadProblem> {
        let located = open(path, CKUKE_O_PATH | O_CLOEXEC)
        guard located >= 0 else {
            let code = errno
            return .failure(code == ENOENT ? Self.missing(path) : ManifestReadProblem("cannot open: \(String(cString: strerror(code)))"))
        }
        defer { close(located) }
        do {
            return .success(try RegularFile.bytes(ofLocated: located, limit: limit))
        } catch {
            switch error {
            case .notRegular("a directory", _):
                return .failure(
                    ManifestReadProblem("is a directory where a manifest file is expected (a file being replaced?)", isTransient: true))
            case .notRegular(let kind, _):
                return .failure(ManifestReadProblem(kind == "not a regular file" ? "is not a regular file" : "is \(kind), not a regular file"))
            case .tooLarge(let size?): return .failure(ManifestReadProblem("file is \(size) bytes; manifests are limited to \(limit) bytes"))
            case .tooLarge(nil):
                return .failure(ManifestReadProblem("file grew past \(limit) bytes while being read; manifests are limited to \(limit) bytes"))
            case .system(let call, let code): return .failure(ManifestReadProblem("cannot \(call): \(String(cString: strerror(code)))"))
            }
        }
    }
}

extension LocalManifestSource {
    /// Why a listed path could not be opened (ENOENT): a link whose target is gone, or a file
    /// gone since it was listed. Both are what a replacement looks like for a moment.
    static func missing(_ path: String) -> ManifestReadProblem {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else {
            return ManifestReadProblem("vanished between listing and reading (a file being replaced?)", isTransient: true)
        }
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &target, target.count - 1)
        let name = count >= 0 ? String(decoding: target[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        return ManifestReadProblem("is a symbolic link to \(name), which does not exist (a link being replaced?)", isTransient: true)
    }

    public func absolutePath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

extension ManifestLoader {
    /// A loader of local files and the given standard input (see `refusesTransients`).
    public static func local(readStandardInput: @escaping @Sendable () -> Data, refusingTransients: Bool = false) -> ManifestLoader {
        ManifestLoader(source: LocalManifestSource(), readStandardInput: readStandardInput, refusesTransients: refusingTransients)
    }
}
