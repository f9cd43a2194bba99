import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// `kuke watch --metrics-address` and `--metrics-file` through the real binary in a sandbox:
/// the endpoint is scraped over HTTP and its text parsed by Prometheus' own Python parser
/// (prometheus_client, Debian's python3-prometheus-client; scripts/install-deps installs it).
@Suite("metrics (kernel)", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct MetricsKernelTests {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    static let scraper = #filePath.components(separatedBy: "/Tests/")[0] + "/scripts/lib/scrape.py"

    struct ScrapeFailed: Error {}

    /// The first line's object (status codes), then every sample. `polling`: a failed scrape (the
    /// endpoint not listening yet) throws instead of failing the test, for a wait that retries.
    func scrape(_ sandbox: KernelSandbox, _ arguments: [String], polling: Bool = false) throws -> (statuses: [String: Int], samples: [Sample]) {
        let result = sandbox.run(["/usr/bin/python3", Self.scraper] + arguments)
        if polling && result.status != 0 { throw ScrapeFailed() }
        #expect(result.status == 0, "\(result)")
        var lines = result.stdout.split(separator: "\n").map(String.init)
        guard !lines.isEmpty else { return ([:], []) }
        var statuses: [String: Int] = [:]
        if case .object(let object) = try JSONParser.parse(lines.removeFirst()) {
            for (key, value) in object { if case .number(let number) = value { statuses[key] = Int(number) } }
        }
        let samples = try lines.map { line -> Sample in
            let value = try JSONParser.parse(line)
            var labels: [String: String] = [:]
            if case .object(let object)? = value["labels"] { for (key, label) in object { labels[key] = label.stringValue } }
            var number = 0.0
            if case .number(let parsed)? = value["value"] { number = parsed }
            return Sample(name: value["name"]?.stringValue ?? "", labels: labels, value: number)
        }
        return (statuses, samples)
    }

    func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }?.value
    }

    @Test("/metrics parses as Prometheus text and counts what the watcher did; /healthz, /readyz; the file matches")
    func scrapeEndpointAndFile() throws {
        try KernelSandbox.with { sandbox in
            let directory = "\(sandbox.directory)/watched"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try examples.write(toFile: "\(directory)/examples.yaml", atomically: false, encoding: .utf8)
            let file = "\(sandbox.directory)/kuke.prom"
            let watcher = try #require(
                sandbox.startKuke("watch", directory, "--resync", "1h", "--metrics-address", "127.0.0.1:9464", "--metrics-file", file))
            let base = "http://127.0.0.1:9464"
            #expect(Subprocess.waitUntil { (try? scrape(sandbox, [base], polling: true).statuses["readyz"]) == 200 }, "\(watcher.stderr)")
            let first = try scrape(sandbox, [base])
            #expect(first.statuses == ["healthz": 200, "readyz": 200, "missing": 404])
            #expect(value(first.samples, "kuke_reconcile_total", ["kind": "Space", "result": "created"]) == 2, "\(first.samples.map(\.name))")
            #expect(value(first.samples, "kuke_reconcile_total", ["kind": "Realm", "result": "created"]) == 1)
            #expect(value(first.samples, "kuke_reconcile_total", ["kind": "Space", "result": "failed"]) == 0)
            #expect(value(first.samples, "kuke_space_info", ["realm": "main", "space": "blog", "bridge": "kuke-main-blog", "state": "Ready"]) == 1)
            #expect(value(first.samples, "kuke_build_info") == 1)
            #expect((value(first.samples, "kuke_reconcile_duration_seconds_count") ?? 0) >= 1)
            #expect(value(first.samples, "kuke_workqueue_depth") == 0)
            #expect((value(first.samples, "kuke_last_pass_timestamp_seconds") ?? 0) > Date().timeIntervalSince1970 - 120)

            // Drift: the bridge deleted by hand is repaired and counted as a repair of the bridge part.
            #expect(sandbox.run(["ip", "link", "delete", "kuke-main-blog"]).status == 0)
            #expect(Subprocess.waitUntil { sandbox.links()["kuke-main-blog"] == "bridge" }, "\(watcher.stderr)")
            #expect(
                Subprocess.waitUntil {
                    (try? value(scrape(sandbox, [base], polling: true).samples, "kuke_drift_repairs_total", ["part": "bridge"])) == 1
                },
                "\(watcher.stderr)")

            // The file holds the same families after the pass, written whole (parsed by the same parser).
            #expect(
                Subprocess.waitUntil {
                    (try? String(contentsOfFile: file, encoding: .utf8))?.contains("kuke_drift_repairs_total{part=\"bridge\"} 1") == true
                })
            let written = try scrape(sandbox, ["--file", file])
            #expect(value(written.samples, "kuke_reconcile_total", ["kind": "Space", "result": "created"]) == 2)
            #expect(value(written.samples, "kuke_space_info", ["space": "analytics-pipeline"]) == 1)

            watcher.signal(SIGTERM)
            #expect(watcher.wait(timeout: 15) == 0, "\(watcher.stderr)")
        }
    }

    @Test("a --metrics-address that cannot be bound exits 2 and names it")
    func unbindable() throws {
        try KernelSandbox.with { sandbox in
            let directory = "\(sandbox.directory)/watched"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let result = sandbox.kuke("watch", directory, "--metrics-address", "192.0.2.1:9464")
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.contains("--metrics-address 192.0.2.1:9464: cannot listen"), "\(result)")
            #expect(sandbox.kuke("watch", directory, "--metrics-address", "9464").status == 2)
        }
    }
}
