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

    public init(
        engine: Engine, options: WatchOptions, logger: Logger, watcher: any ManifestWatcher, fallback: (any ManifestWatcher)? = nil,
        notifier: SystemdNotifier = SystemdNotifier()
    ) {
        self.engine = engine
        self.options = options
        self.logger = logger
        self.watcher = watcher
        self.fallback = fallback
        self.notifier = notifier
    }

    public func run() async throws {
        let (triggers, continuation) = AsyncStream<WatchTrigger>.makeStream()
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
                }
            }
        } catch {
            logger.warning("link monitor unavailable; deleted bridges are repaired at the next resync", metadata: ["error": "\(error.message)"])
        }
        let clock = ContinuousClock()
        let start = clock.now
        func now() -> Double {
            let elapsed = clock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }

        // SIGHUP is trapped before the first pass, so an early reload request resyncs instead of killing the process.
        let hangups = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                continuation.yield(.resync(reason: "SIGHUP"))
            }
        }
        let controller = WatchController(engine: engine, options: options, logger: logger)
        controller.start(now: now())
        var status = controller.statusLine(now: now())
        notifier.notify("READY=1\nSTATUS=\(status)")
        logger.info("watching", metadata: ["directories": "\(options.roots.joined(separator: ","))", "status": "\(status)"])

        // One wake-up at a time, at the controller's next due time (debounce end, retry, resync)
        // or the next watchdog ping, whichever is first.
        var wake: Task<Void, Never>?
        func scheduleWake(after seconds: Double) {
            wake?.cancel()
            wake = Task {
                try? await Task.sleep(for: .milliseconds(Int64(max(0, seconds) * 1000) + 1))
                if !Task.isCancelled { continuation.yield(.tick) }
            }
        }
        var lastWatchdog = now()
        func nextWake() -> Double {
            let controllerWake = controller.nextWake - now()
            guard let interval = notifier.watchdogInterval else { return controllerWake }
            return min(controllerWake, lastWatchdog + interval - now())
        }
        scheduleWake(after: nextWake())
        await withGracefulShutdownHandler {
            for await trigger in triggers {
                controller.handle(trigger, now: now())
                let current = controller.statusLine(now: now())
                if current != status {
                    status = current
                    notifier.notify("STATUS=\(status)")
                }
                if let interval = notifier.watchdogInterval, now() - lastWatchdog >= interval {
                    lastWatchdog = now()
                    notifier.notify("WATCHDOG=1")
                }
                scheduleWake(after: nextWake())
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
        notifier.notify("STOPPING=1")
        wake?.cancel()
        hangups.cancel()
        active.stop()
        monitor.stop()
        logger.info("stopped")
    }
}
