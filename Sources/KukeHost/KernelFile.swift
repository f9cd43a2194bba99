import SystemPackage

/// A file the kernel serves (a cgroup interface file, a sysctl, a /proc table), read whole or
/// written in one write, through swift-system's `FileDescriptor`: it owns the descriptor for
/// the call only (closed on every path), retries EINTR, and reports the `Errno`.
enum KernelFile {
    /// A failed write: the errno, and whether it was the open (the file) or the write (the value)
    /// the kernel refused.
    struct WriteFailure: Error {
        var errno: Errno
        var opening: Bool
    }

    /// The file's text, read to its end (such files report size 0, so it is read in chunks until
    /// EOF), at most `limit` bytes; nil when it does not exist (its open fails with `ENOENT`, or
    /// `ENOTDIR` for a directory that is gone).
    static func read(_ path: String, limit: Int = 1 << 20) throws(Errno) -> String? {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly, options: .closeOnExec)
        } catch Errno.noSuchFileOrDirectory, Errno.notDirectory {
            return nil
        } catch {
            throw error as? Errno ?? .ioError
        }
        do {
            return try fd.closeAfter {
                // Read through a buffer on the stack: a pass reads thousands of these small files,
                // and a heap buffer zeroed for each read showed in the unchanged pass's time.
                var text: [UInt8] = []
                try withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 1) { chunk in
                    while text.count < limit {
                        let count = try fd.read(into: chunk)
                        if count == 0 { break }
                        text.append(contentsOf: chunk.prefix(count))
                    }
                }
                return String(decoding: text.prefix(limit), as: UTF8.self)
            }
        } catch {
            throw error as? Errno ?? .ioError
        }
    }

    /// Writes `value` in one write(2), as sysfs and cgroupfs take a setting (a short write is
    /// an error: `EIO`).
    static func write(_ value: String, to path: String) throws(WriteFailure) {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: .closeOnExec)
        } catch {
            throw WriteFailure(errno: error as? Errno ?? .ioError, opening: true)
        }
        do {
            try fd.closeAfter {
                let bytes = Array(value.utf8)
                let written = try bytes.withUnsafeBytes { try fd.write($0) }
                if written != bytes.count { throw Errno.ioError }
            }
        } catch {
            throw WriteFailure(errno: error as? Errno ?? .ioError, opening: false)
        }
    }
}
