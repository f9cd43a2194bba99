import NIOPosix

/// The engine's passes, on a thread pool of one thread (SwiftNIO's `NIOThreadPool`; `TP-#0`
/// in `top -H`). A pass
/// blocks (netlink, nftables, fsync, the host lock) for as long as the host makes it; there it
/// never occupies the cooperative pool, so signal handling (SIGHUP, SIGTERM's graceful
/// shutdown) and the producers' streams are served while it runs. With one thread, jobs run one
/// at a time, in the order they were queued.
final class PassThread: Sendable {
    let pool = NIOThreadPool(numberOfThreads: 1)

    init() { pool.start() }

    /// Runs `body` on the pass thread and returns its result; throws when the pool is stopped,
    /// or when the calling task is cancelled before `body` started.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    /// Ends the thread once the job running (if any) is done; jobs still queued are called off.
    func stop() async {
        try? await pool.shutdownGracefully()
    }
}

/// The controller, used only from the pass thread (every call goes through `PassThread.run`).
final class PassState: @unchecked Sendable {
    // Safe to share: only the pass thread touches `controller`, one job at a time.
    let controller: WatchController
    init(_ controller: WatchController) { self.controller = controller }
}
