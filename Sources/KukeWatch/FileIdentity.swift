import Glibc

/// What tells a file changed without reading it: inode, size and modification time.
public struct FileIdentity: Equatable, Sendable, CustomStringConvertible {
    public var inode: UInt64
    public var size: Int64
    public var seconds: Int
    public var nanoseconds: Int

    public init?(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        seconds = info.st_mtim.tv_sec
        nanoseconds = info.st_mtim.tv_nsec
    }

    public var description: String { "inode \(inode) size \(size) mtime \(seconds).\(nanoseconds)" }
}
