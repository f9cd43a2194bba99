import Foundation
import Glibc
import KukeEngine
import KukeModel

/// `FileStore` on the local filesystem.
///
/// - A write goes to `.<name>.kuke-tmp` in the same directory, is fsynced, renamed over the
///   target and the directory fsynced, so a reader sees the old file or the new one, never a
///   torn one, even across a crash; a crash leaves at most that one temporary name, which the
///   engine finds and removes.
/// - Below a trusted root (the run path, the default CNI directory) no symbolic link is
///   followed: every directory is opened with `O_NOFOLLOW` relative to its parent, and files
///   with `O_NOFOLLOW`, so a link planted inside kuke's trees never redirects a write. A root
///   itself, and a space's own `cniConfigPath` directory, may be links (the operator's
///   choice); the file in it still is not followed.
/// - Only regular files are read (a FIFO or a device at a record's path is refused, not read).
public struct LocalFileStore: FileStore {
    /// Directories whose contents kuke owns; paths below them are walked without following links.
    public var roots: [String]

    public init(roots: [String] = []) {
        self.roots = roots.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    // MARK: Directories

    /// The root `path` is under (the longest), and the components below it; or, outside every
    /// root, the path's parent as its own root with the last component below it.
    func split(_ path: String) -> (root: String, components: [String]) {
        let root = roots.filter { path.hasPrefix($0 == "/" ? "/" : $0 + "/") }.max { $0.count < $1.count }
        if let root {
            return (root, path.dropFirst(root.count).split(separator: "/").map(String.init))
        }
        let parent = (path as NSString).deletingLastPathComponent
        return (parent.isEmpty ? "/" : parent, [(path as NSString).lastPathComponent].filter { !$0.isEmpty })
    }

    /// An open descriptor of the directory `path`, every component below its root opened
    /// without following links; missing ones are made (0755) when `create`, nil otherwise.
    func openDirectory(_ path: String, create: Bool) throws(HostError) -> Int32? {
        let (root, components) = split(path)
        if create { try makeDirectories(root) }
        var fd = SystemError.retrying { open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemError.hostError("\(root): open failed", errno)
        }
        var walked = root
        for component in components {
            walked += walked.hasSuffix("/") ? component : "/" + component
            var next = SystemError.retrying { openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if next < 0 && errno == ENOENT && create {
                if mkdirat(fd, component, 0o755) != 0 && errno != EEXIST {
                    let code = errno
                    close(fd)
                    throw SystemError.hostError("\(walked): mkdir failed", code)
                }
                next = SystemError.retrying { openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            }
            let code = errno
            close(fd)
            guard next >= 0 else {
                if code == ENOENT { return nil }
                throw linkError(walked, code, what: "a directory")
            }
            fd = next
        }
        return fd
    }

    /// The error for a path component that is a link or not what was expected.
    func linkError(_ path: String, _ code: Int32, what: String) -> HostError {
        var info = stat()
        if lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK {
            return HostError("\(path): is a symbolic link; kuke does not follow links inside the trees it manages", code: "ELOOP")
        }
        if code == ENOTDIR || code == ELOOP { return HostError("\(path): is not \(what)", code: SystemError.name(code)) }
        return SystemError.hostError("\(path): open failed", code)
    }

    /// `mkdir -p` of a root, mode 0755 (links in a root are followed: it is the operator's path).
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

    static func name(of path: String) -> String { (path as NSString).lastPathComponent }
    static func parent(of path: String) -> String { (path as NSString).deletingLastPathComponent }

    // MARK: FileStore

    public func read(_ path: String) throws(HostError) -> String? {
        guard let directory = try openDirectory(Self.parent(of: path), create: false) else { return nil }
        defer { close(directory) }
        let fd = SystemError.retrying { openat(directory, Self.name(of: path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw linkError(path, errno, what: "a regular file")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError.hostError("\(path): stat failed", errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw HostError("\(path): is not a regular file", code: "EINVAL") }
        var data: [UInt8] = []
        data.reserveCapacity(Int(info.st_size))
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
        guard let directory = try openDirectory(Self.parent(of: path), create: true) else {
            throw SystemError.hostError("\(Self.parent(of: path)): open failed", ENOENT)
        }
        defer { close(directory) }
        let name = Self.name(of: path)
        let temporary = HostLayout.temporaryName(of: name)
        unlinkat(directory, temporary, 0)  // a leftover of an interrupted write
        let fd = SystemError.retrying { openat(directory, temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode)) }
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
        if failure == nil { FaultInjection.step("write \(temporary) for \(path)") }
        if failure == nil && renameat(directory, temporary, directory, name) != 0 {
            failure = SystemError.hostError("\(path): rename failed", errno)
        }
        if let failure {
            unlinkat(directory, temporary, 0)
            throw failure
        }
        fsync(directory)
        FaultInjection.step("rename \(path)")
    }

    public func exists(_ path: String) -> Bool {
        guard let directory = try? openDirectory(Self.parent(of: path), create: false) else { return false }
        defer { close(directory) }
        var info = stat()
        return fstatat(directory, Self.name(of: path), &info, AT_SYMLINK_NOFOLLOW) == 0
    }

    public func remove(_ path: String) throws(HostError) {
        guard let directory = try openDirectory(Self.parent(of: path), create: false) else { return }
        defer { close(directory) }
        if unlinkat(directory, Self.name(of: path), 0) != 0 {
            if errno == ENOENT { return }
            throw SystemError.hostError("\(path): remove failed", errno)
        }
        fsync(directory)
        FaultInjection.step("remove \(path)")
    }

    public func removeTree(_ path: String) throws(HostError) {
        guard let directory = try openDirectory(Self.parent(of: path), create: false) else { return }
        defer { close(directory) }
        try removeTree(named: Self.name(of: path), in: directory, path: path)
        fsync(directory)
        FaultInjection.step("remove tree \(path)")
    }

    /// Removes `name` in the open directory, descending into directories without following links.
    func removeTree(named name: String, in directory: Int32, path: String) throws(HostError) {
        if unlinkat(directory, name, 0) == 0 || errno == ENOENT { return }
        guard errno == EISDIR else { throw SystemError.hostError("\(path): remove failed", errno) }
        let fd = SystemError.retrying { openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemError.hostError("\(path): open failed", errno) }
        for entry in Self.names(in: fd) {
            do {
                try removeTree(named: entry, in: fd, path: "\(path)/\(entry)")
            } catch {
                close(fd)
                throw error
            }
        }
        close(fd)
        if unlinkat(directory, name, AT_REMOVEDIR) != 0 && errno != ENOENT { throw SystemError.hostError("\(path): rmdir failed", errno) }
    }

    /// The names in an open directory (`.` and `..` left out); the descriptor stays open.
    static func names(in fd: Int32) -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let stream = fdopendir(copy) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in String(cString: raw.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func entries(_ path: String) -> [String] {
        guard let fd = try? openDirectory(path, create: false) else { return [] }
        defer { close(fd) }
        return Self.names(in: fd).sorted()
    }

    public func removeDirectory(_ path: String) throws(HostError) {
        guard let directory = try openDirectory(Self.parent(of: path), create: false) else { return }
        defer { close(directory) }
        if unlinkat(directory, Self.name(of: path), AT_REMOVEDIR) != 0 {
            if errno == ENOENT { return }
            throw SystemError.hostError("\(path): rmdir failed", errno)
        }
        fsync(directory)
        FaultInjection.step("rmdir \(path)")
    }

    public func subdirectories(_ path: String) -> [String] {
        guard let fd = try? openDirectory(path, create: false) else { return [] }
        defer { close(fd) }
        return Self.names(in: fd).filter { name in
            var info = stat()
            return !name.hasPrefix(".") && fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFDIR
        }.sorted()
    }
}
