import Foundation
import Glibc
import KukeEngine
import SystemPackage

/// The host lock: `flock(LOCK_EX)` on `<run>/.kuke.lock`. The kernel drops it when the
/// process exits, so a crashed kuke never leaves the host locked.
public struct FlockHostLock: HostLock {
    public var path: String
    /// Called once when the lock is busy and kuke starts waiting.
    public var onWait: @Sendable (String) -> Void

    public init(path: String, onWait: @escaping @Sendable (String) -> Void = { _ in }) {
        self.path = path
        self.onWait = onWait
    }

    struct Held: HeldLock {
        let descriptor: Int32
        func release() {
            flock(descriptor, LOCK_UN)
            close(descriptor)
        }
    }

    public func acquire(timeout: Double?) throws(HostError) -> any HeldLock {
        try LocalFileStore().makeDirectories((path as NSString).deletingLastPathComponent)
        let fd = SystemError.retrying { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644) }
        guard fd >= 0 else { throw SystemError.hostError("host lock \(path): open failed", errno) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return Held(descriptor: fd) }
        guard errno == EWOULDBLOCK else {
            let code = errno
            close(fd)
            throw SystemError.hostError("host lock \(path): flock failed", code)
        }
        onWait("waiting for the host lock \(path): another kuke is running")
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return Held(descriptor: fd) }
            if let deadline, Date() >= deadline {
                close(fd)
                throw HostError(
                    "host lock \(path): still held by another kuke after \(timeout ?? 0)s; retry, or raise --lock-timeout", errno: .timedOut)
            }
            usleep(20_000)
        }
    }
}
