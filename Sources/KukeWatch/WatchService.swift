import Foundation
import KukeEngine
import KukeHost
import Logging
import ServiceLifecycle
import UnixSignals

/// `kuke watch` as a service: wires the file watcher, the netlink link monitor, timed
/// wake-ups, SIGHUP and systemd notifications to a `WatchController`. Graceful shutdown (SIGTERM)
/// lets the reconcile in flight finish, then stops.
public struct WatchService: Service {
    let engine: Engine
    let options: WatchOptions
    let logger: Logger
    let watcher: any ManifestWatcher
    /// Used when `watcher` cannot start (no inotify, or its limits reached).
    let fallback: (any ManifestWatcher)?
    let notifier: SystemdNotifier
    let telemetry: WatchTelemetry?

    public init(
        engine: Engine, options: WatchOptions, logger: Logger, watcher: any ManifestWatcher, fallback: (any ManifestWatcher)? = nil,
        notifier: SystemdNotifier = SystemdNotifier(), telemetry: WatchTelemetry? = nil
    ) {
        self.telemetry = telemetry
        self.engine = engine
        self.options = options
        self.logger = logger
        self.watcher = watcher
        self.fallback = fallback
        self.notifier = notifier
    }

    public func run() async throws {
        let (triggers, continuation) = AsyncStream<WatchTrigger>.makeStream()
        let producers = try startProducers(continuation)
        let passes = PassThread()
        let wakes = WakeScheduler(continuation: continuation, notifier: notifier, clock: MonotonicSeconds())
        do {
            try await serve(triggers, continuation: continuation, passes: passes, wakes: wakes)
        } catch {
            // Cancelled while a pass was queued: stopped all the same, without waiting for it.
            await stop(producers: producers, passes: passes, wakes: wakes)
            throw error
        }
        await stop(producers: producers, passes: passes, wakes: wakes)
    }

    /// The first pass, then one pass per trigger until graceful shutdown ends the triggers.
    func serve(
        _ triggers: AsyncStream<WatchTrigger>, continuation: AsyncStream<WatchTrigger>.Continuation, passes: PassThread, wakes: WakeScheduler
    ) async throws {
        let clock = wakes.clock
        let state = PassState(WatchController(engine: engine, options: options, logger: logger))
        let telemetry = telemetry
        let logger = logger
        var status = try await passes.run {
            state.controller.metrics = telemetry?.metrics
            state.controller.start(now: clock.now())
            telemetry?.writeFile(logger: logger)
            return state.controller.statusLine(now: clock.now())
        }
        notifier.notify("READY=1\nSTATUS=\(status)")
        logger.info("watching", metadata: ["directories": "\(options.roots.joined(separator: ","))", "status": "\(status)"])

        wakes.schedule(controllerWake: try await passes.run { state.controller.nextWake })
        try await withGracefulShutdownHandler {
            for await trigger in triggers {
                let (current, controllerWake) = try await passes.run {
                    let (passes, resync) = (state.controller.passes, state.controller.lastResync)
                    state.controller.handle(trigger, now: clock.now())
                    if state.controller.passes != passes || state.controller.lastResync != resync { telemetry?.writeFile(logger: logger) }
                    return (state.controller.statusLine(now: clock.now()), state.controller.nextWake)
                }
                if current != status {
                    status = current
                    notifier.notify("STATUS=\(status)")
                }
                wakes.pingWatchdogIfDue()
                wakes.schedule(controllerWake: controllerWake)
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
    }

    /// Everything `run` started, stopped: systemd told, the wake-ups, the producers' threads and the pass thread.
    func stop(producers: Producers, passes: PassThread, wakes: WakeScheduler) async {
        notifier.notify("STOPPING=1")
        wakes.cancel()
        producers.stop()
        await passes.stop()
        logger.info("stopped")
    }

    /// The sources of triggers: the file watcher (or its fallback), the netlink link monitor
    /// and SIGHUP, each feeding `continuation`.
    func startProducers(_ continuation: AsyncStream<WatchTrigger>.Continuation) throws -> Producers {
        var active = watcher
        do {
            try watcher.start(roots: options.roots) { continuation.yield($0) }
        } catch {
            guard let fallback else { throw error }
            logger.warning("file watching unavailable (\(error)); falling back to polling")
            try fallback.start(roots: options.roots) { continuation.yield($0) }
            active = fallback
        }
        let monitor = NetlinkLinkMonitor()
        do {
            try monitor.start { event in
                switch event {
                case .deleted(let name): continuation.yield(.linkDeleted(name))
                case .overflow: continuation.yield(.resync(reason: "netlink overflow"))
                case .failing(let message):
                    logger.warning(
                        "link monitor: receiving link notifications fails; retrying with backoff (deleted bridges are repaired at the next resync meanwhile)",
                        metadata: ["error": "\(message)"])
                case .recovered:
                    logger.info("link monitor: receiving again; resyncing")
                    continuation.yield(.resync(reason: "link monitor recovered"))
                }
            }
        } catch {
            logger.warning("link monitor unavailable; deleted bridges are repaired at the next resync", metadata: ["error": "\(error.message)"])
        }
        // SIGHUP is trapped before the first pass, so an early reload request resyncs instead of killing the process.
        let hangups = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                continuation.yield(.resync(reason: "SIGHUP"))
            }
        }
        return Producers(watcher: active, monitor: monitor, hangups: hangups)
    }

    /// What `startProducers` started, stopped together.
    struct Producers {
        let watcher: any ManifestWatcher
        let monitor: NetlinkLinkMonitor
        let hangups: Task<Void, Never>

        func stop() {
            hangups.cancel()
            watcher.stop()
            monitor.stop()
        }
    }
}

/// Seconds since the service started, on the monotonic clock (wall-clock jumps do not move it).
struct MonotonicSeconds: Sendable {
    let clock = ContinuousClock()
    let start = ContinuousClock.now

    func now() -> Double {
        let elapsed = clock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// One wake-up at a time (a `.tick`), at the controller's next due time (debounce end, retry,
/// resync) or the next watchdog ping, whichever is first; and the watchdog pings themselves.
final class WakeScheduler: @unchecked Sendable {
    // Safe to share: used only from the service's trigger loop, one trigger at a time.
    let continuation: AsyncStream<WatchTrigger>.Continuation
    let notifier: SystemdNotifier
    let clock: MonotonicSeconds
    var wake: Task<Void, Never>?
    var lastWatchdog: Double

    init(continuation: AsyncStream<WatchTrigger>.Continuation, notifier: SystemdNotifier, clock: MonotonicSeconds) {
        self.continuation = continuation
        self.notifier = notifier
        self.clock = clock
        lastWatchdog = clock.now()
    }

    /// The longest single sleep (a day): a later wake-up is reached by sleeping again.
    static let longestSleep: Double = 86_400

    /// Replaces the pending wake-up with one at `controllerWake` (or the watchdog's, if sooner).
    func schedule(controllerWake: Double) {
        var seconds = controllerWake - clock.now()
        if let interval = notifier.watchdogInterval { seconds = min(seconds, lastWatchdog + interval - clock.now()) }
        wake?.cancel()
        let continuation = continuation
        wake = Task {
            // Bounded before the conversion to whole milliseconds, so no interval can trap it.
            try? await Task.sleep(for: .milliseconds(Int64(min(max(0, seconds), Self.longestSleep) * 1000) + 1))
            if !Task.isCancelled { continuation.yield(.tick) }
        }
    }

    /// `WATCHDOG=1` when the interval has passed since the last one.
    func pingWatchdogIfDue() {
        guard let interval = notifier.watchdogInterval, clock.now() - lastWatchdog >= interval else { return }
        lastWatchdog = clock.now()
        notifier.notify("WATCHDOG=1")
    }

    func cancel() { wake?.cancel() }
}
