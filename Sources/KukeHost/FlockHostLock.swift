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
        let descriptor: FileDescriptor
        func release() {
            flock(descriptor.rawValue, LOCK_UN)
            try? descriptor.close()
        }
    }

    public func acquire(timeout: Double?) throws(HostError) -> any HeldLock {
        try LocalFileStore().makeDirectories((path as NSString).deletingLastPathComponent)
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                FilePath(path), .readWrite, options: [.create, .closeOnExec, .noFollow], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw SystemError.hostError("host lock \(path): open failed", (error as? Errno)?.rawValue ?? EIO)
        }
        let fd = descriptor.rawValue
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return Held(descriptor: descriptor) }
        guard errno == EWOULDBLOCK else {
            let code = errno
            try? descriptor.close()
            throw SystemError.hostError("host lock \(path): flock failed", code)
        }
        onWait("waiting for the host lock \(path): another kuke is running")
        guard let timeout else {
            // No limit: one blocking flock, woken by the kernel when the holder lets go.
            guard SystemError.retrying({ flock(fd, LOCK_EX) }) == 0 else {
                let code = errno
                try? descriptor.close()
                throw SystemError.hostError("host lock \(path): flock failed", code)
            }
            return Held(descriptor: descriptor)
        }
        // A limit: flock has none, so the lock is tried again (LOCK_NB) at growing intervals (1 ms
        // up to 25 ms) until it is free or the time, on the monotonic clock, runs out. Nothing
        // blocks, so nothing needs interrupting: no thread and no signal handler of its own. A
        // waiter that polls does not queue in the kernel: a stream of kuke passes without a
        // timeout could take the lock before it every time, and it then gives up, as asked.
        let clock = ContinuousClock()
        let bounded = timeout.isFinite ? min(max(timeout, 0), 365 * 86_400) : 365 * 86_400
        let deadline = clock.now + .milliseconds(Int64(bounded * 1000))
        var pause = Duration.milliseconds(1)
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return Held(descriptor: descriptor) }
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else {
                try? descriptor.close()
                throw SystemError.hostError("host lock \(path): flock failed", code)
            }
            let left = deadline - clock.now
            guard left > .zero else { break }
            let nap = min(pause, left)
            Thread.sleep(forTimeInterval: Double(nap.components.seconds) + Double(nap.components.attoseconds) / 1e18)
            pause = min(pause * 2, .milliseconds(25))
        }
        try? descriptor.close()
        throw HostError("host lock \(path): still held by another kuke after \(timeout)s", errno: .timedOut, hint: .raiseLockTimeout)
    }
}
