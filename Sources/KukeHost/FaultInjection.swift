import Glibc
import Synchronization

/// A test-only crash point: with `KUKE_TEST_CRASH_AFTER=k` in the environment (read once, at
/// the first step), the process exits with status 86, without cleanup, right after its k-th
/// mutating step. Every driver call that changes the host is a step, and an atomic file write
/// is two: the temporary file written and synced, then renamed into place. Without the
/// variable, a step is one load of a constant.
enum FaultInjection {
    /// The exit status of an injected crash.
    static let exitStatus: Int32 = 86

    static let crashAfter: Int? = getenv("KUKE_TEST_CRASH_AFTER").flatMap { Int(String(cString: $0)) }.flatMap { $0 > 0 ? $0 : nil }
    static let steps = Mutex(0)

    /// Marks one mutating step done; crashes when it is the chosen one.
    static func step(_ what: @autoclosure () -> String) {
        guard let crashAfter else { return }
        let count = steps.withLock { value in
            value += 1
            return value
        }
        guard count >= crashAfter else { return }
        let line = "kuke: injected crash after step \(count): \(what())\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        _exit(exitStatus)
    }
}
