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
        guard let timeout else {
            // No limit: one blocking flock, woken by the kernel when the holder lets go.
            guard SystemError.retrying({ flock(fd, LOCK_EX) }) == 0 else {
                let code = errno
                close(fd)
                throw SystemError.hostError("host lock \(path): flock failed", code)
            }
            return Held(descriptor: fd)
        }
        // A limit: the blocking flock runs on a thread of its own while the caller waits for it on
        // a monotonic clock (a dispatch semaphore's deadline). If the time runs out first, the
        // waiter is interrupted (a signal makes its flock return EINTR) and never takes the lock.
        let waiter = LockWaiter(descriptor: fd)
        Thread { waiter.wait() }.start()
        let ended = waiter.exited.wait(timeout: .now() + timeout) == .success
        switch waiter.conclude(ended: ended) {
        case 0?: return Held(descriptor: fd)
        case let failure?:
            close(fd)
            throw SystemError.hostError("host lock \(path): flock failed", failure)
        case nil:
            close(fd)
            throw HostError("host lock \(path): still held by another kuke after \(timeout)s; retry, or raise --lock-timeout", errno: .timedOut)
        }
    }
}

/// A blocking `flock(LOCK_EX)` on a thread of its own that the caller can call off: a signal
/// (SIGURG, whose handler does nothing) makes the flock return EINTR, and a waiter called off
/// does not try again, so it never holds the lock behind the caller's back.
final class LockWaiter: @unchecked Sendable {
    // Safe to share: `result`, `thread` and `calledOff` are read and written only under `lock`;
    // `descriptor` never changes.
    let descriptor: Int32
    /// Signaled once, when the waiting thread is done.
    let exited = DispatchSemaphore(value: 0)
    let lock = NSLock()
    var result: Int32?
    var thread: pthread_t?
    var calledOff = false

    /// The signal that interrupts a waiter. Its handler is installed once, without SA_RESTART,
    /// so a blocked flock returns EINTR instead of being restarted.
    static let interruption: Int32 = SIGURG
    static let installed: Void = {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(interruption, &action, nil)
    }()

    init(descriptor: Int32) {
        self.descriptor = descriptor
        _ = Self.installed
    }

    /// Runs on the waiting thread.
    func wait() {
        // The interruption must reach this thread: unblock it here whatever mask the thread inherited.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, Self.interruption)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        lock.withLock { thread = pthread_self() }
        var code: Int32 = 0
        while true {
            if flock(descriptor, LOCK_EX) == 0 {
                code = 0
                break
            }
            code = errno
            if code != EINTR || lock.withLock({ calledOff }) { break }
        }
        lock.withLock {
            if calledOff && (code == 0 || code == EINTR) {
                if code == 0 { flock(descriptor, LOCK_UN) }  // came too late: not the caller's any more
            } else {
                result = code
            }
        }
        exited.signal()
    }

    /// 0 when the lock is held, an errno when flock failed, nil when the time ran out (the waiter
    /// is then interrupted, and has exited without the lock when this returns). `ended`: the
    /// caller already saw the thread exit (it consumed `exited`).
    func conclude(ended: Bool) -> Int32? {
        if ended { return lock.withLock { result } }
        lock.lock()
        calledOff = true
        let finished = result
        lock.unlock()
        if let finished {  // it returned just as time ran out: the lock (or its error) is the caller's
            exited.wait()
            return finished
        }
        while exited.wait(timeout: .now() + .milliseconds(10)) == .timedOut {
            if let thread = lock.withLock({ self.thread }) { pthread_kill(thread, Self.interruption) }
        }
        return lock.withLock { result }
    }
}
