import Glibc
import KukeEngine

/// The one safe reader of kuke's inputs (records, conflists, manifests): a file located with
/// `O_PATH` (which opens nothing, so no FIFO blocks and no device acts) is checked to be a
/// regular file, then opened for reading through that same descriptor (`/proc/self/fd`), so
/// what was checked is what is read: a FIFO or a device is never opened. An unchanged file is
/// read in one `read`.
enum RegularFile {
    /// Why a located file was not read.
    enum Problem: Error {
        /// A FIFO, device, socket, directory or link: what it is (`a FIFO`, `a directory`).
        case notRegular(String, isLink: Bool)
        /// Larger than the limit (its size), or grew past it while being read (nil).
        case tooLarge(Int?)
        /// A system call failed: what was attempted and errno.
        case system(String, Int32)
    }

    /// The bytes of the regular file `located` (an `O_PATH` descriptor), at most `limit` when given.
    static func bytes(ofLocated located: Int32, limit: Int?) throws(Problem) -> [UInt8] {
        var info = stat()
        guard fstat(located, &info) == 0 else { throw .system("stat", errno) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFIFO: throw .notRegular("a FIFO", isLink: false)
        case S_IFCHR, S_IFBLK: throw .notRegular("a device", isLink: false)
        case S_IFSOCK: throw .notRegular("a socket", isLink: false)
        case S_IFLNK: throw .notRegular("a symbolic link", isLink: true)
        case S_IFDIR: throw .notRegular("a directory", isLink: false)
        default: throw .notRegular("not a regular file", isLink: false)
        }
        if let limit, Int(info.st_size) > limit { throw .tooLarge(Int(info.st_size)) }
        let fd = SystemError.retrying { open("/proc/self/fd/\(located)", O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw .system("open", errno) }
        defer { close(fd) }
        // One byte more than the size: a short read of a regular file is its end, so a file that
        // did not change is read in one call; one that grew is read on to its end (or its limit).
        let size = Int(info.st_size)
        var data = [UInt8](repeating: 0, count: size + 1)
        var filled = 0
        while true {
            if filled == data.count { data += [UInt8](repeating: 0, count: max(4096, data.count)) }
            let wanted = data.count - filled
            let count = data.withUnsafeMutableBytes { raw in SystemError.retrying { read(fd, raw.baseAddress! + filled, wanted) } }
            if count < 0 { throw .system("read", errno) }
            filled += count
            if let limit, filled > limit { throw .tooLarge(nil) }
            if count == 0 || count < wanted { break }
        }
        data.removeSubrange(filled...)
        return data
    }
}
