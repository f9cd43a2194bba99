import Foundation
import KukeEngine
import KukeModel
import Testing

@testable import KukeWatch

/// The metrics' own logic, without a server: counters that survive the kernel's resets, the
/// space gauges following the records, health by the age of the last pass.
@Suite("watch metrics")
struct WatchMetricsTests {
    func metrics(resync: Double = 300) -> WatchMetrics { WatchMetrics(build: [("version", "0.1.0")], resyncInterval: resync) }

    func line(_ text: String, _ prefix: String) -> String? { text.split(separator: "\n").map(String.init).first { $0.hasPrefix(prefix) } }

    @Test("drop counters add what the kernel counted since the last reading, across a table rewrite that restarts it at 0")
    func dropsSurviveTableRewrites() {
        let metrics = metrics()
        let blog = SpaceID(realm: "main", name: "blog")
        metrics.spaces([blog: record(blog)])
        metrics.drops(egress: ["kuke-main-blog": 5], isolation: ["kuke-main-blog": 2])
        metrics.drops(egress: ["kuke-main-blog": 8], isolation: ["kuke-main-blog": 2])
        metrics.drops(egress: ["kuke-main-blog": 3], isolation: ["kuke-main-blog": 0])  // the table was replaced
        let text = metrics.text(firewall: nil)
        #expect(
            line(text, "kuke_space_egress_dropped_packets_total{") == #"kuke_space_egress_dropped_packets_total{realm="main",space="blog"} 11"#,
            "\(text)")
        #expect(
            line(text, "kuke_space_isolation_dropped_packets_total{") == #"kuke_space_isolation_dropped_packets_total{realm="main",space="blog"} 2"#)
        // A bridge no record names is not counted.
        metrics.drops(egress: ["kuke-other": 9], isolation: [:])
        #expect(!metrics.text(firewall: nil).contains("kuke-other"))
    }

    @Test("kuke_space_info follows the records: a changed state replaces the gauge, a removed space drops it")
    func spaceInfo() {
        let metrics = metrics()
        let blog = SpaceID(realm: "main", name: "blog")
        let shop = SpaceID(realm: "main", name: "shop")
        metrics.spaces([blog: record(blog), shop: record(shop)])
        var failed = record(blog)
        failed.status.state = .failed
        metrics.spaces([blog: failed])
        let text = metrics.text(firewall: nil)
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("kuke_space_info{") }
        #expect(lines.count == 1, "\(text)")
        #expect(lines.first?.contains(#"space="blog""#) == true && lines.first?.contains(#"state="Failed""#) == true)
    }

    @Test("health: ready after the first pass; alive until twice the resync interval passed since the last")
    func health() {
        let metrics = metrics(resync: 10)
        #expect(metrics.health().ready == false && metrics.health().alive)
        metrics.passCompleted(unixTime: 0)
        #expect(metrics.health().ready && metrics.health().alive)
        let late = metrics.health(at: .now + .seconds(21))
        #expect(!late.alive && late.ready)
        #expect(late.message.contains("limit 20 s"), "\(late.message)")
    }

    @Test("a pass counts its outcomes by kind and result, and the parts it repaired")
    func passes() {
        let metrics = metrics()
        metrics.recordPass(
            [
                ResourceOutcome(kind: .space, realm: "main", name: "blog", outcome: .updated),
                ResourceOutcome(kind: .space, realm: "main", name: "shop", outcome: .failed),
            ], seconds: 0.02, repairedParts: ["bridge", "bridge", "cgroup"])
        let text = metrics.text(firewall: nil)
        #expect(text.contains(#"kuke_reconcile_total{kind="Space",result="updated"} 1"#), "\(text)")
        #expect(text.contains(#"kuke_reconcile_total{kind="Space",result="failed"} 1"#))
        #expect(text.contains(#"kuke_reconcile_total{kind="Realm",result="created"} 0"#))
        #expect(text.contains(#"kuke_drift_repairs_total{part="bridge"} 2"#))
        #expect(text.contains("kuke_reconcile_duration_seconds_count 1"))
    }

    func record(_ id: SpaceID) -> SpaceRecord {
        SpaceRecord(
            metadata: ObjectMeta(name: id.name), spec: SpaceSpec(realmId: id.realm),
            status: SpaceStatus(
                state: .ready,
                network: SpaceNetworkStatus(
                    name: "\(id.realm)-\(id.name)", bridge: "kuke-\(id.realm)-\(id.name)", subnet: IPv4Subnet("10.88.0.0/24")!,
                    conflistPath: "/etc/cni/net.d/\(id.realm)-\(id.name).conflist")))
    }
}
