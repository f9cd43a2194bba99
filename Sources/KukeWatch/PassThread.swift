import Foundation

/// One thread of its own for the engine's passes. A pass blocks (netlink, nftables, fsync, the
/// host lock) for as long as the host makes it; on this thread it never occupies the cooperative
/// pool, so signal handling (SIGHUP, SIGTERM's graceful shutdown) and the producers' streams are
/// served while it runs. Jobs run one at a time, in order.
final class PassThread: @unchecked Sendable {
    // Safe to share: `jobs` and `stopped` are touched only while holding `condition`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var stopped = false

    /// - Parameter name: the thread's name, as `top -H` shows it (Linux keeps 15 bytes).
    init(name: String = "kuke-passes") {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty && stopped {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Runs `body` on the pass thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            condition.lock()
            jobs.append { continuation.resume(returning: body()) }
            condition.signal()
            condition.unlock()
        }
    }

    /// Lets the thread end once the jobs queued so far have run.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }
}

/// The controller, used only from the pass thread (every call goes through `PassThread.run`).
final class PassState: @unchecked Sendable {
    // Safe to share: only the pass thread touches `controller`, one job at a time.
    let controller: WatchController
    init(_ controller: WatchController) { self.controller = controller }
}
