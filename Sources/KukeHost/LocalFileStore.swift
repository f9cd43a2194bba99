import CKukeSys
import Foundation
import Glibc
import KukeEngine
import KukeModel
import SystemPackage

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
///   choice); the file in it still is not followed. Paths are resolved with one `openat2`
///   (`RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH`) where the kernel has it, component by
///   component otherwise.
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
    func split(_ path: String) -> (root: String, components: [Substring]) {
        var best: String?
        for root in roots where path.hasPrefix(root) {
            let rest = path.utf8.dropFirst(root.utf8.count)
            guard root == "/" || rest.first == UInt8(ascii: "/") else { continue }
            if best.map({ root.utf8.count > $0.utf8.count }) ?? true { best = root }
        }
        if let root = best {
            return (root, path.utf8.dropFirst(root.utf8.count).split(separator: UInt8(ascii: "/")).map { Substring($0) })
        }
        return (Self.parent(of: path), [Substring(Self.name(of: path))].filter { !$0.isEmpty })
    }

    /// Opens `components` below `root` without following links: one `openat2` call, or a
    /// walk when the kernel lacks it. A missing component gives nil (or is made, 0755, when
    /// `create`, for directories).
    func openBeneath(_ path: String, flags: Int32, create: Bool) throws(HostError) -> Int32? {
        let (root, components) = split(path)
        return try openBeneath(root: root, components, flags: flags, create: create, path: path)
    }

    /// The directory a file is in, opened as `openBeneath` opens it, and the file's name in it.
    /// The file's own path is split, so a directory outside every root (a space's
    /// `cniConfigPath`) is the root here and may itself be a link.
    func openParent(of path: String, create: Bool) throws(HostError) -> (fd: Int32, name: String)? {
        let (root, components) = split(path)
        guard let last = components.last else { throw HostError("\(path): not a file path", errno: .invalidArgument) }
        guard
            let fd = try openBeneath(
                root: root, Array(components.dropLast()), flags: O_RDONLY | O_DIRECTORY, create: create, path: Self.parent(of: path))
        else { return nil }
        return (fd, String(last))
    }

    func openBeneath(root: String, _ components: [Substring], flags: Int32, create: Bool, path: String) throws(HostError) -> Int32? {
        if create { try makeDirectories(root) }
        let rootFD = SystemError.retrying { open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if rootFD < 0 {
            if errno == ENOENT { return nil }
            throw SystemError.hostError("\(root): open failed", errno)
        }
        if components.isEmpty { return rootFD }
        defer { close(rootFD) }
        let relative = components.joined(separator: "/")
        let fd = SystemError.retrying { ckuke_open_beneath(rootFD, relative, flags | O_CLOEXEC, 0) }
        if fd >= 0 { return fd }
        switch errno {
        case ENOENT where !create: return nil
        case ENOENT, ENOSYS, EINVAL, EPERM:  // to be made, or no openat2 (EPERM: a seccomp filter)
            return try walk(rootFD, root: root, components, flags: flags, create: create)
        default:
            throw linkError(path, errno, what: flags & O_DIRECTORY != 0 ? "a directory" : "a regular file")
        }
    }

    /// The component-by-component form of `openBeneath`.
    func walk(_ rootFD: Int32, root: String, _ components: [Substring], flags: Int32, create: Bool) throws(HostError) -> Int32? {
        var fd = dup(rootFD)
        var walked = root
        for (index, component) in components.enumerated() {
            let name = String(component)
            walked += walked.hasSuffix("/") ? name : "/" + name
            let last = index == components.count - 1
            let openFlags = last ? flags | O_NOFOLLOW | O_CLOEXEC : O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
            var next = SystemError.retrying { openat(fd, name, openFlags) }
            if next < 0 && errno == ENOENT && create && (!last || flags & O_DIRECTORY != 0) {
                if mkdirat(fd, name, 0o755) != 0 && errno != EEXIST {
                    let code = errno
                    close(fd)
                    throw SystemError.hostError("\(walked): mkdir failed", code)
                }
                next = SystemError.retrying { openat(fd, name, openFlags) }
            }
            let code = errno
            close(fd)
            guard next >= 0 else {
                if code == ENOENT { return nil }
                throw linkError(walked, code, what: last && flags & O_DIRECTORY == 0 ? "a regular file" : "a directory")
            }
            fd = next
        }
        return fd
    }

    /// An open descriptor of the directory `path`, every component below its root opened
    /// without following links; missing ones are made (0755) when `create`, nil otherwise.
    func openDirectory(_ path: String, create: Bool) throws(HostError) -> Int32? {
        try openBeneath(path, flags: O_RDONLY | O_DIRECTORY, create: create)
    }

    /// The error for a path that could not be opened beneath its root: the first component
    /// below the root that is a symbolic link is named, or the path is not what was expected.
    func linkError(_ path: String, _ code: Int32, what: String) -> HostError {
        let (root, components) = split(path)
        var prefix = root
        for component in components {
            prefix += prefix.hasSuffix("/") ? String(component) : "/" + component
            var info = stat()
            if lstat(prefix, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK {
                return HostError(
                    "\(prefix): is a symbolic link; kuke does not follow links inside the trees it manages", errno: .tooManySymbolicLinkLevels)
            }
        }
        if code == ENOTDIR || code == ELOOP || code == EXDEV { return HostError("\(path): is not \(what)", errno: Errno(rawValue: code)) }
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

    /// The last component of `path` (`space.yaml` of `/run/main/blog/space.yaml`).
    static func name(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
        return String(path[path.utf8.index(after: slash)...])
    }

    /// The directory of `path` (`/run/main/blog`), `/` for a file at the top.
    static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        return slash == path.utf8.startIndex ? "/" : String(path[..<slash])
    }

    // MARK: FileStore

    public func read(_ path: String) throws(HostError) -> String? {
        guard let located = try openBeneath(path, flags: CKUKE_O_PATH | O_NOFOLLOW, create: false) else { return nil }
        defer { close(located) }
        do {
            return String(decoding: try RegularFile.bytes(ofLocated: located, limit: nil), as: UTF8.self)
        } catch {
            switch error {
            case .notRegular(_, isLink: true): throw linkError(path, ELOOP, what: "a regular file")
            case .notRegular: throw HostError("\(path): is not a regular file", errno: .invalidArgument)
            case .tooLarge: throw HostError("\(path): is too large", errno: .fileTooLarge)
            case .system(let call, let code): throw SystemError.hostError("\(path): \(call) failed", code)
            }
        }
    }

    public func write(_ path: String, _ text: String, mode: UInt32) throws(HostError) {
        guard let (directory, name) = try openParent(of: path, create: true) else {
            throw SystemError.hostError("\(path): open failed", ENOENT)
        }
        defer { close(directory) }
        let temporary = HostLayout.temporaryName(of: name)
        var failure = writeTemporary(path, text, mode: mode, directory: directory, temporary: temporary, sync: true)
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

    /// Most files one group keeps open (their directories) between its two syncs.
    static let groupSize = 256

    /// Grouped durability: every temporary file written unsynced, one `syncfs` per filesystem,
    /// all renamed, one more `syncfs` per filesystem (for the directories). Each file is
    /// replaced atomically as with `write`; a crash leaves every file old or new, never torn.
    public func writeAll(_ files: [FileWrite]) -> [HostError?] {
        var results = [HostError?](repeating: nil, count: files.count)
        var start = 0
        while start < files.count {
            let end = min(start + Self.groupSize, files.count)
            writeGroup(files, start..<end, into: &results)
            start = end
        }
        return results
    }

    private func writeGroup(_ files: [FileWrite], _ range: Range<Int>, into results: inout [HostError?]) {
        var prepared: [(index: Int, directory: Int32, name: String, temporary: String)] = []
        defer { for entry in prepared { close(entry.directory) } }
        for index in range {
            let file = files[index]
            do throws(HostError) {
                guard let (directory, name) = try openParent(of: file.path, create: true) else {
                    throw SystemError.hostError("\(file.path): open failed", ENOENT)
                }
                let temporary = HostLayout.temporaryName(of: name)
                if let failure = writeTemporary(file.path, file.text, mode: file.mode, directory: directory, temporary: temporary, sync: false) {
                    unlinkat(directory, temporary, 0)
                    close(directory)
                    throw failure
                }
                prepared.append((index, directory, name, temporary))
            } catch {
                results[index] = error
            }
        }
        let filesystems = Self.oneDescriptorPerFilesystem(prepared.map(\.directory))
        // The new contents are durable before any name points at them; a filesystem that cannot
        // sync gets nothing renamed.
        for fd in filesystems where ckuke_syncfs(fd) != 0 {
            let error = errno
            var info = stat()
            let device = fstat(fd, &info) == 0 ? info.st_dev : 0
            prepared.removeAll { entry in
                var entryInfo = stat()
                guard fstat(entry.directory, &entryInfo) != 0 || entryInfo.st_dev == device else { return false }
                results[entry.index] = SystemError.hostError("\(files[entry.index].path): syncfs failed", error)
                unlinkat(entry.directory, entry.temporary, 0)
                close(entry.directory)
                return true
            }
        }
        for entry in prepared {
            if renameat(entry.directory, entry.temporary, entry.directory, entry.name) != 0 {
                results[entry.index] = SystemError.hostError("\(files[entry.index].path): rename failed", errno)
                unlinkat(entry.directory, entry.temporary, 0)
                continue
            }
            FaultInjection.step("rename \(files[entry.index].path)")
        }
        // The renames (directory entries) are durable when the group returns.
        for fd in Self.oneDescriptorPerFilesystem(prepared.map(\.directory)) { _ = ckuke_syncfs(fd) }
    }

    /// One of `descriptors` for each filesystem they are on.
    static func oneDescriptorPerFilesystem(_ descriptors: [Int32]) -> [Int32] {
        var seen: Set<UInt> = []
        var chosen: [Int32] = []
        for fd in descriptors {
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                chosen.append(fd)
                continue
            }
            if seen.insert(UInt(info.st_dev)).inserted { chosen.append(fd) }
        }
        return chosen
    }

    /// Writes `text` into a new temporary file of `directory`, synced when `sync` is set.
    private func writeTemporary(_ path: String, _ text: String, mode: UInt32, directory: Int32, temporary: String, sync: Bool) -> HostError? {
        unlinkat(directory, temporary, 0)  // a leftover of an interrupted write
        let fd = SystemError.retrying { openat(directory, temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode)) }
        guard fd >= 0 else { return SystemError.hostError("\(path): creating temporary file failed", errno) }
        var failure: HostError?
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = SystemError.retrying { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
                if written <= 0 {
                    failure = SystemError.hostError("\(path): write failed", written < 0 ? errno : EIO)
                    return
                }
                offset += written
            }
        }
        if failure == nil && fchmod(fd, mode_t(mode)) != 0 { failure = SystemError.hostError("\(path): chmod failed", errno) }
        if failure == nil && sync && fsync(fd) != 0 { failure = SystemError.hostError("\(path): fsync failed", errno) }
        if close(fd) != 0 && failure == nil { failure = SystemError.hostError("\(path): close failed", errno) }
        if failure == nil { FaultInjection.step("write \(temporary) for \(path)") }
        return failure
    }

    /// One `lstat`; `st_ctim` changes on every write and cannot be set by hand.
    public func identity(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return
            "\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):\(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)"
    }

    /// One `lstat`: whether anything is there is all it tells (acting on it goes through the safe walk).
    public func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    public func remove(_ path: String) throws(HostError) {
        guard let (directory, name) = try openParent(of: path, create: false) else { return }
        defer { close(directory) }
        if unlinkat(directory, name, 0) != 0 {
            if errno == ENOENT { return }
            throw SystemError.hostError("\(path): remove failed", errno)
        }
        fsync(directory)
        FaultInjection.step("remove \(path)")
    }

    public func removeTree(_ path: String) throws(HostError) {
        guard let (directory, name) = try openParent(of: path, create: false) else { return }
        defer { close(directory) }
        try removeTree(named: name, in: directory, path: path)
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
        guard copy >= 0 else { return [] }
        guard let stream = fdopendir(copy) else {
            close(copy)
            return []
        }
        defer { closedir(stream) }
        rewinddir(stream)  // the copy shares the offset with `fd`
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
        guard let (directory, name) = try openParent(of: path, create: false) else { return }
        defer { close(directory) }
        if unlinkat(directory, name, AT_REMOVEDIR) != 0 {
            if errno == ENOENT { return }
            throw SystemError.hostError("\(path): rmdir failed", errno)
        }
        fsync(directory)
        FaultInjection.step("rmdir \(path)")
    }

    public func subdirectories(_ path: String) throws(HostError) -> [String] {
        guard let fd = try openDirectory(path, create: false) else { return [] }
        defer { close(fd) }
        return Self.names(in: fd).filter { name in
            var info = stat()
            return !name.hasPrefix(".") && fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFDIR
        }.sorted()
    }
}
