import CKukeSys
import Glibc

/// An eventfd a blocked reader waits on beside its own descriptor (`poll`), so `stop()` wakes
/// it at once instead of the reader waking every second to look at a flag.
public final class WakeSignal: Sendable {
    public let descriptor: Int32

    public init() {
        descriptor = ckuke_wake_descriptor()
    }

    deinit { close(descriptor) }

    /// Makes the descriptor readable (for good: a stopped reader stays stopped).
    public func signal() {
        var one: UInt64 = 1
        _ = write(descriptor, &one, 8)
    }

    /// Whether `signal()` was called.
    public var isSignaled: Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    /// Waits `seconds`, or less when the signal comes; true when the time passed unsignaled.
    public func sleep(seconds: Double) -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let deadline = ContinuousClock.now + .milliseconds(Int((seconds * 1000).rounded()))
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return true }
            let (secondsLeft, attoseconds) = left.components
            let ready = poll(&entry, 1, Int32(min(Int64(Int32.max), secondsLeft * 1000 + attoseconds / 1_000_000_000_000_000 + 1)))
            if ready < 0 && errno == EINTR { continue }
            if ready > 0 { return false }
        }
    }

    /// Blocks until `descriptor` is readable (true) or the signal comes (false).
    public func waitReadable(_ descriptor: Int32) -> Bool {
        var entries = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0), pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&entries, 2, -1)
            if ready < 0 && errno == EINTR { continue }
            if entries[1].revents != 0 { return false }
            return ready > 0
        }
    }
}
