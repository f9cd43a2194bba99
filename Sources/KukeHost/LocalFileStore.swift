import Foundation
import Glibc
import KukeEngine

/// `FileStore` on the local filesystem. A write goes to a temporary file in the same
/// directory, is fsynced, renamed over the target and the directory fsynced, so a reader
/// sees the old file or the new one, never a torn one, even across a crash.
public struct LocalFileStore: FileStore {
    public init() {}

    public func read(_ path: String) throws(HostError) -> String? {
        let fd = SystemError.retrying { open(path, O_RDONLY | O_CLOEXEC) }
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemError.hostError("\(path): open failed", errno)
        }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in SystemError.retrying { Glibc.read(fd, raw.baseAddress, raw.count) } }
            if count < 0 { throw SystemError.hostError("\(path): read failed", errno) }
            if count == 0 { break }
            data.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: data, as: UTF8.self)
    }

    public func write(_ path: String, _ text: String, mode: UInt32) throws(HostError) {
        let directory = (path as NSString).deletingLastPathComponent
        try makeDirectories(directory)
        let temporary = "\(directory)/.\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = SystemError.retrying { open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode)) }
        guard fd >= 0 else { throw SystemError.hostError("\(path): creating temporary file failed", errno) }
        var failure: HostError?
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { raw in SystemError.retrying { Glibc.write(fd, raw.baseAddress, raw.count) } }
            if written <= 0 {
                failure = SystemError.hostError("\(path): write failed", written < 0 ? errno : EIO)
                break
            }
            offset += written
        }
        if failure == nil && fchmod(fd, mode_t(mode)) != 0 { failure = SystemError.hostError("\(path): chmod failed", errno) }
        if failure == nil && fsync(fd) != 0 { failure = SystemError.hostError("\(path): fsync failed", errno) }
        if close(fd) != 0 && failure == nil { failure = SystemError.hostError("\(path): close failed", errno) }
        if failure == nil && rename(temporary, path) != 0 { failure = SystemError.hostError("\(path): rename failed", errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
        syncDirectory(directory)
    }

    func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// `mkdir -p`, mode 0755.
    func makeDirectories(_ directory: String) throws(HostError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR { return }
            throw SystemError.hostError("\(directory): not a directory", ENOTDIR)
        }
        let parent = (directory as NSString).deletingLastPathComponent
        if parent != directory && !parent.isEmpty { try makeDirectories(parent) }
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw SystemError.hostError("\(directory): mkdir failed", errno)
        }
    }

    public func remove(_ path: String) throws(HostError) {
        if unlink(path) != 0 && errno != ENOENT { throw SystemError.hostError("\(path): remove failed", errno) }
        syncDirectory((path as NSString).deletingLastPathComponent)
    }

    public func removeTree(_ path: String) throws(HostError) {
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw HostError("\(path): remove failed: \(error.localizedDescription)")
        }
        syncDirectory((path as NSString).deletingLastPathComponent)
    }

    public func entries(_ path: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    }

    public func removeDirectory(_ path: String) throws(HostError) {
        if rmdir(path) != 0 && errno != ENOENT { throw SystemError.hostError("\(path): rmdir failed", errno) }
        syncDirectory((path as NSString).deletingLastPathComponent)
    }

    public func subdirectories(_ path: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
        return names.filter { name in
            var info = stat()
            return !name.hasPrefix(".") && lstat("\(path)/\(name)", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
        }
    }
}
