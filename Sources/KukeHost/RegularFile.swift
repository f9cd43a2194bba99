import Glibc
import KukeEngine

/// The one safe reader of kuke's inputs (records, conflists, manifests): a file opened
/// non-blocking (`O_NONBLOCK | O_NOCTTY`, so no FIFO blocks and no terminal is taken) is
/// checked with `fstat` to be a regular file before anything is read from it, then read in one
/// `read` when its size allows. Four system calls per file: open, fstat, read, close.
enum RegularFile {
    /// The flags a file to be read is opened with (add `O_NOFOLLOW` where links are refused).
    static let openFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC

    /// Why a file was not read.
    enum Problem: Error {
        /// A FIFO, device, socket, directory or link: what it is (`a FIFO`).
        case notRegular(String, isLink: Bool)
        /// Larger than the limit (its size), or grew past it while being read (nil).
        case tooLarge(Int?)
        /// A system call failed: what was attempted and errno.
        case system(String, Int32)
    }

    /// The bytes of the file open at `fd` (opened with `openFlags`) when it is a regular file,
    /// at most `limit` when given.
    static func bytes(ofOpened fd: Int32, limit: Int?) throws(Problem) -> [UInt8] {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system("stat", errno) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFIFO: throw .notRegular("a FIFO", isLink: false)
        case S_IFCHR, S_IFBLK: throw .notRegular("a device", isLink: false)
        case S_IFSOCK: throw .notRegular("a socket", isLink: false)
        case S_IFLNK: throw .notRegular("a symbolic link", isLink: true)
        default: throw .notRegular("not a regular file", isLink: false)
        }
        let size = Int(info.st_size)
        if let limit, size > limit { throw .tooLarge(size) }
        // One byte more than the size: a short read of a regular file is its end, so a file that
        // did not change is read in one call; one that grew is read on to its end.
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
