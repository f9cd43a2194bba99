import KukeEngine
import KukeHost
import Logging

/// What `--metrics-address` and `--metrics-file` publish: the metrics (`WatchMetrics`), served by
/// a `MetricsServer` and written to a file for node_exporter's textfile collector.
public struct WatchTelemetry: Sendable {
    public let metrics: WatchMetrics
    /// Written atomically (a temp file renamed over it) after each pass.
    public let file: String?
    /// Read for the drop counters when the metrics are emitted.
    let firewall: (any FirewallControl)?

    public init(metrics: WatchMetrics, file: String?, firewall: (any FirewallControl)?) {
        self.metrics = metrics
        self.file = file
        self.firewall = firewall
    }

    /// The answer to `GET path`: `/metrics`, `/healthz`, `/readyz`, else 404.
    public func respond(_ path: String) -> MetricsServer.Response {
        switch path {
        case "/metrics":
            return MetricsServer.Response(
                status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.text(firewall: firewall))
        case "/healthz":
            let health = metrics.health()
            return MetricsServer.Response(
                status: health.alive ? .ok : .serviceUnavailable, body: (health.alive ? "ok: " : "stalled: ") + health.message + "\n")
        case "/readyz":
            let health = metrics.health()
            return MetricsServer.Response(
                status: health.ready ? .ok : .serviceUnavailable, body: (health.ready ? "ready: " : "not ready: ") + health.message + "\n")
        default:
            return MetricsServer.Response(status: .notFound, body: "not found: try /metrics, /healthz or /readyz\n")
        }
    }

    /// Writes the metrics file, when there is one; a failure is logged and the watcher goes on.
    func writeFile(logger: Logger) {
        guard let file else { return }
        do {
            try LocalFileStore().write(file, metrics.text(firewall: firewall), mode: 0o644)
        } catch {
            logger.warning("cannot write the metrics file: \(error.message)", metadata: ["path": "\(file)"])
        }
    }
}
