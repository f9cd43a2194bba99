import KukeEngine
import KukeModel
import Prometheus
import Synchronization

/// `kuke watch`'s metrics in Prometheus' text format (swift-prometheus), and the health the
/// HTTP endpoints report. Fed from the pass thread (`WatchController`), read from the HTTP
/// server's event loop and by the metrics file writer: every member is thread-safe.
public final class WatchMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let resyncInterval: Double
    let duration: DurationHistogram
    let workqueueDepth: Gauge
    let inotifyOverflows: Counter
    let pruneHeld: Counter
    let lastPassTimestamp: Gauge
    let state = Mutex(State())

    /// When the watcher started, for `/healthz` before the first pass ends.
    let started = ContinuousClock.now

    struct State {
        /// When the last pass or full resync ended; nil before the first.
        var lastPass: ContinuousClock.Instant?
        /// The `kuke_space_info` gauge of each space, by its labels, so a changed or removed space's goes away.
        var spaceInfo: [[String]: Gauge] = [:]
        /// Which space each recorded bridge belongs to, for the drop counters.
        var bridges: [String: SpaceID] = [:]
        /// The kernel's last drop count per bridge and kind, to add only what is new (the table is
        /// replaced whole on a change, which restarts the kernel's counters at 0).
        var lastDrops: [String: UInt64] = [:]
    }

    /// `build` are the labels of `kuke_build_info` (version, commit, swift).
    public init(build: [(String, String)], resyncInterval: Double) {
        self.resyncInterval = resyncInterval
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "kuke", metricName: metric, unitName: unit, helpText: help)
        }
        registry.makeGauge(descriptor: name("build", "info", "kuke's version, commit and Swift compiler; always 1."), labels: build).set(to: 1)
        duration = registry.makeDurationHistogram(
            descriptor: name("reconcile_duration", "seconds", "Duration of each pass of the engine over a batch of resources."), labels: [],
            buckets: [.milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5), .seconds(30)])
        workqueueDepth = registry.makeGauge(
            descriptor: name("workqueue", "depth", "Resources queued for a pass (due now or waiting for a retry)."), labels: [])
        inotifyOverflows = registry.makeCounter(
            descriptor: name("inotify_overflows", "total", "inotify queue overflows (events lost; each one triggers a full resync)."), labels: [])
        pruneHeld = registry.makeCounter(
            descriptor: name("prune_held", "total", "Prune decisions held back because the watched directories had not converged."), labels: [])
        lastPassTimestamp = registry.makeGauge(
            descriptor: name("last_pass_timestamp", "seconds", "Unix time at which the last pass or full resync ended."), labels: [])
        for kind in ResourceKind.allCases.map(\.rawValue) {
            for result in Outcome.allCases { _ = reconcileCounter(kind: kind, result: result.rawValue) }
        }
    }

    func reconcileCounter(kind: String, result: String) -> Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "kuke", metricName: "reconcile", unitName: "total", helpText: "Resources reconciled, by kind and outcome."),
            labels: [("kind", kind), ("result", result)])
    }

    /// A resource's failure, by reason and by how the watcher retries it (`transient`: with
    /// backoff; `permanent`: when something changes).
    func recordFailure(_ failure: Failure) {
        registry.makeCounter(
            descriptor: .init(
                namespace: "kuke", metricName: "failures", unitName: "total",
                helpText: "Resource failures, by reason and persistence (transient: retried with backoff; permanent: retried on a change)."),
            labels: [("reason", failure.reason.rawValue), ("persistence", failure.persistence.rawValue)]
        ).increment()
    }

    /// One pass of the engine: its outcomes, how long it took, and the parts it repaired
    /// (changes made although the manifest had not changed: drift).
    func recordPass(_ outcomes: [ResourceOutcome], seconds: Double, repairedParts: [String]) {
        for outcome in outcomes { reconcileCounter(kind: outcome.kind.rawValue, result: outcome.outcome.rawValue).increment() }
        duration.record(.nanoseconds(Int64(seconds * 1e9)))
        for part in repairedParts {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "kuke", metricName: "drift_repairs", unitName: "total",
                    helpText: "Changes made to converge a part whose manifest had not changed (drift repaired), by part."),
                labels: [("part", part)]
            ).increment()
        }
    }

    func queueDepth(_ depth: Int) { workqueueDepth.set(to: Double(depth)) }
    func overflowed() { inotifyOverflows.increment() }
    func heldPrune() { pruneHeld.increment() }

    /// A pass or a full resync ended (`unixTime` for the gauge).
    func passCompleted(unixTime: Double) {
        state.withLock { $0.lastPass = .now }
        lastPassTimestamp.set(to: unixTime)
    }

    /// `kuke_space_info` for the recorded spaces: one gauge (1) per space with its realm, name,
    /// bridge, subnet and state; the gauges of spaces gone or changed are removed.
    func spaces(_ records: [SpaceID: SpaceRecord]) {
        var wanted: [[String]: SpaceRecord] = [:]
        var bridges: [String: SpaceID] = [:]
        for (id, record) in records {
            let network = record.status.network
            wanted[[id.realm, id.name, network?.bridge ?? "", network.map { "\($0.subnet)" } ?? "", record.status.state.rawValue]] = record
            if let bridge = network?.bridge { bridges[bridge] = id }
        }
        state.withLock { state in
            for (labels, gauge) in state.spaceInfo where wanted[labels] == nil {
                registry.unregisterGauge(gauge)
                state.spaceInfo[labels] = nil
            }
            for labels in wanted.keys where state.spaceInfo[labels] == nil {
                let gauge = registry.makeGauge(
                    descriptor: MetricNameDescriptor(
                        namespace: "kuke", metricName: "space", unitName: "info",
                        helpText: "Each recorded space with its bridge, subnet and state; always 1."),
                    labels: zip(["realm", "space", "bridge", "subnet", "state"], labels).map { ($0, $1) })
                gauge.set(to: 1)
                state.spaceInfo[labels] = gauge
            }
            state.bridges = bridges
        }
    }

    /// Adds the packets the isolation table dropped since the last reading to each space's
    /// counters (`egress` for its egress policy's `deny`, `isolation` for traffic to another space).
    func drops(egress: [String: UInt64], isolation: [String: UInt64]) {
        let bridges = state.withLock { $0.bridges }
        for (kind, counts) in [("egress", egress), ("isolation", isolation)] {
            for (bridge, packets) in counts {
                guard let id = bridges[bridge] else { continue }
                let key = kind + " " + bridge
                let added = state.withLock { state -> UInt64 in
                    let last = state.lastDrops[key] ?? 0
                    state.lastDrops[key] = packets
                    return packets >= last ? packets - last : packets
                }
                let counter = registry.makeCounter(
                    descriptor: MetricNameDescriptor(
                        namespace: "kuke", metricName: "space_\(kind)_dropped_packets", unitName: "total",
                        helpText: kind == "egress"
                            ? "Packets the space's egress policy dropped, counted by kuke since it started."
                            : "Packets from the space to another space that isolation dropped, counted by kuke since it started."),
                    labels: [("realm", id.realm), ("space", id.name)])
                if added > 0 { counter.increment(by: Int64(added)) }
            }
        }
    }

    /// `/healthz`: alive while the last pass ended less than twice the resync interval ago
    /// (before the first, counted from the start). `/readyz`: the first pass is done.
    public func health(at now: ContinuousClock.Instant = .now) -> (alive: Bool, ready: Bool, message: String) {
        let last = state.withLock { $0.lastPass }
        let elapsed = now - (last ?? started)
        let age = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let limit = 2 * resyncInterval
        let alive = age < limit
        let message =
            last == nil
            ? "first pass running for \(Int(age)) s"
            : "last pass \(Int(age)) s ago" + (alive ? "" : " (limit \(Int(limit)) s: twice the resync interval)")
        return (alive, last != nil, message)
    }

    /// The metrics in Prometheus' text exposition format, the drop counters read from the table first.
    public func text(firewall: (any FirewallControl)?) -> String {
        // One reading at a time (the HTTP thread and the pass thread both emit): an older reading
        // applied after a newer one would look like a counter reset and be counted twice.
        emitting.withLock { _ in refreshDrops(firewall: firewall) }
        return registry.emitToString()
    }

    let emitting = Mutex(())

    func refreshDrops(firewall: (any FirewallControl)?) {
        if let observed = try? firewall?.observe() {
            var isolation = observed.drops
            for (bridge, packets) in observed.egressDrops { isolation[bridge] = (isolation[bridge] ?? 0) - min(packets, isolation[bridge] ?? 0) }
            drops(egress: observed.egressDrops, isolation: isolation)
        }
    }
}
