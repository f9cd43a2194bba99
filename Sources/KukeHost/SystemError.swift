import Glibc
import KukeEngine
import SystemPackage

/// errno, wrapped once: a name (`EEXIST`) and the C library's text.
enum SystemError {
    static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", EBADF: "EBADF", EAGAIN: "EAGAIN",  // also EWOULDBLOCK
        ENOMEM: "ENOMEM", EACCES: "EACCES", EBUSY: "EBUSY", EEXIST: "EEXIST", ENODEV: "ENODEV",
        ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", ENOSPC: "ENOSPC", EROFS: "EROFS",
        ERANGE: "ERANGE", ENAMETOOLONG: "ENAMETOOLONG", ENOTEMPTY: "ENOTEMPTY", ELOOP: "ELOOP",
        EOPNOTSUPP: "EOPNOTSUPP", EPROTONOSUPPORT: "EPROTONOSUPPORT", ENOBUFS: "ENOBUFS",
        EAFNOSUPPORT: "EAFNOSUPPORT", EDQUOT: "EDQUOT", ETIMEDOUT: "ETIMEDOUT",
        EMLINK: "EMLINK", EXDEV: "EXDEV",
    ]

    static func name(_ code: Int32) -> String { names[code] ?? "errno \(code)" }

    /// `Text (NAME)`, e.g. `File exists (EEXIST)`.
    static func text(_ code: Int32) -> String { "\(String(cString: strerror(code))) (\(name(code)))" }

    /// A `HostError` for `what failed` with the given errno.
    static func hostError(_ what: String, _ code: Int32) -> HostError {
        HostError("\(what): \(text(code))", errno: Errno(rawValue: code))
    }

    /// Retries a system call interrupted by a signal.
    static func retrying<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }
}
