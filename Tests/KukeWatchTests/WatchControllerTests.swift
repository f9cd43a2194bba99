import Foundation
import KukeEngine
import KukeModel
import KukeTestSupport
import Logging
import Synchronization
import SystemPackage
import Testing

@testable import KukeWatch

/// Collects log lines for assertions.
final class LogSink: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func count(_ text: String) -> Int { all.filter { $0.contains(text) }.count }
    var logger: Logger {
        Logger(label: "test") { _ in LineLogHandler(format: .text, level: .debug, write: { line in self.lines.withLock { $0.append(line) } }) }
    }
}

@Suite("Watch: work queue")
struct WorkQueueTests {
    @Test("requests for one key coalesce to the earliest; due keys are taken once")
    func coalescing() {
        var queue = WorkQueue<String>()
        queue.schedule("a", at: 5)
        queue.schedule("a", at: 3)
        queue.schedule("a", at: 9)
        #expect(queue.takeDue(now: 2).isEmpty)
        #expect(queue.takeDue(now: 3) == ["a"])
        #expect(queue.takeDue(now: 10).isEmpty)
    }

    @Test("failures back off 1 s, 2 s, 4 s … up to 5 minutes, per key; success resets")
    func backoff() {
        var queue = WorkQueue<String>()
        #expect((1...4).map { _ in queue.failed("a", now: 0).delay } == [1, 2, 4, 8])
        #expect(queue.failed("b", now: 0).delay == 1)
        #expect(WorkQueue<String>.delay(attempt: 30) == 300)
        queue.succeeded("a")
        #expect(queue.failed("a", now: 0).delay == 1)
    }
}

@Suite("Watch: controller")
struct WatchControllerTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    final class Fixture {
        let directory: String
        let host = FakeHost()
        let log = LogSink()
        let controller: WatchController
        var now = 0.0

        /// `grace` is `--prune-grace` in seconds: 0 (today's prune at the first read) unless a test is about the grace.
        init(layout: HostLayout, prune: Bool = false, allowEmpty: Bool = false, grace: Double = 0, labels: [String: String] = [:]) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-watch-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let engine = Engine(layout: layout, drivers: host.drivers)
            var options = WatchOptions(roots: [directory], prune: prune, allowEmpty: allowEmpty, pruneGrace: grace)
            options.hostLabels = labels
            controller = WatchController(engine: engine, options: options, logger: log.logger)
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }

        func write(_ name: String, _ text: String) throws {
            try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
        }

        /// A file event, then time enough for the debounce.
        func changed() {
            controller.handle(.filesChanged, now: now)
            now += 0.2
            controller.handle(.tick, now: now)
        }

        /// Time passes with nothing but the loop's ticks.
        func wait(until time: Double) {
            now = time
            controller.handle(.tick, now: now)
        }

        func bridgeIndex(_ name: String) -> Int32? {
            host.state.withLock { $0.links["kuke-main-\(name)"]?.index }
        }

        func record(_ realm: String, _ name: String) -> SpaceRecord? {
            host.state.withLock { $0.files["/run/\(realm)/\(name)/space.yaml"] }.flatMap { try? RecordCodec.decodeSpace($0, file: "x") }
        }
    }

    static let realm = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"
    static func space(_ name: String, label: String = "x") -> String {
        "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: \(name)\n  labels: {l: \(label)}\nspec: {realmId: main}\n"
    }

    @Test("a burst of events is debounced into one pass; only changed resources are applied")
    func debounce() throws {
        let fixture = try Fixture(layout: layout)
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("blog.yaml", Self.space("blog"))
        fixture.controller.start(now: 0)
        #expect(fixture.record("main", "blog")?.status.state == .ready)
        #expect(fixture.record("main", "blog")?.status.managedBy == "kuke-watch:\(fixture.directory)")
        let passes = fixture.controller.passes
        try fixture.write("blog.yaml", Self.space("blog", label: "y"))
        for step in 0..<5 { fixture.controller.handle(.filesChanged, now: Double(step) * 0.01) }
        fixture.controller.handle(.tick, now: 0.05)
        #expect(fixture.controller.passes == passes)  // still within the debounce
        fixture.controller.handle(.tick, now: 0.2)
        #expect(fixture.controller.passes == passes + 1)
        #expect(fixture.record("main", "blog")?.metadata.labels == ["l": "y"])
    }

    @Test("egress hosts are re-resolved on every resync: a rotated address is picked up without a file change")
    func egressReResolution() throws {
        let fixture = try Fixture(layout: layout)
        fixture.host.state.withLock { $0.names["api.example.com"] = [IPv4Address("192.0.2.10")!] }
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write(
            "shop.yaml",
            "apiVersion: v1beta1\nkind: Space\nmetadata: {name: shop}\nspec:\n  realmId: main\n  network:\n    egress:\n"
                + "      default: deny\n      allow:\n        - host: api.example.com\n          ports: [443]\n")
        fixture.controller.start(now: 0)
        #expect(fixture.record("main", "shop")?.status.egress?.addresses(of: "api.example.com") == [IPv4Address("192.0.2.10")!])
        fixture.host.state.withLock { $0.names["api.example.com"] = [IPv4Address("192.0.2.77")!] }
        fixture.controller.handle(.tick, now: 1)
        #expect(fixture.record("main", "shop")?.status.egress?.addresses(of: "api.example.com") == [IPv4Address("192.0.2.10")!])
        fixture.controller.handle(.resync(reason: "periodic"), now: 2)
        #expect(fixture.record("main", "shop")?.status.egress?.addresses(of: "api.example.com") == [IPv4Address("192.0.2.77")!])
    }

    @Test("an invalid file keeps what it declared; fixing it resumes")
    func invalidFile() throws {
        let fixture = try Fixture(layout: layout, prune: true, allowEmpty: true)
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("blog.yaml", Self.space("blog"))
        fixture.controller.start(now: 0)
        try fixture.write("blog.yaml", "kind: Space\nmetadata: {name: Blog_}\nspec: {realmId: main}\n")
        fixture.changed()
        // The name's own problem, at its position, with its rule: not just any line about the file.
        #expect(
            fixture.log.all.filter { $0.contains("blog.yaml:2:18: metadata.name") && $0.contains("must not contain") && $0.contains("rule=name") }
                .count
                == 1, "\(fixture.log.all)")
        #expect(fixture.record("main", "blog") != nil)  // not pruned although --prune
        try fixture.write("blog.yaml", "kind: Space\nmetadata: {name: blog}\nspec: {realmId: main, typo: 1}\n")
        fixture.changed()
        #expect(fixture.log.count("spec.typo") == 1, "\(fixture.log.all)")  // a different problem is reported too
        try fixture.write("blog.yaml", Self.space("blog", label: "fixed"))
        fixture.changed()
        #expect(fixture.record("main", "blog")?.metadata.labels == ["l": "fixed"])
        #expect(fixture.log.count("manifest is valid again") == 1)
    }

    @Test(
        "a number past 64 bits after scaling is an invalid file: reported at its position, held, and the watcher runs on",
        arguments: [#"cpu: {max: "18446744073709552"}"#, "hugetlb: [{pageSize: 99999999999GB, max: 1}]", "memory: {max: 1.999999999Ei}"])
    func hostileNumber(_ fragment: String) throws {
        let fixture = try Fixture(layout: layout, prune: true, allowEmpty: true)
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("blog.yaml", Self.space("blog"))
        fixture.controller.start(now: 0)
        try fixture.write(
            "blog.yaml", "apiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec:\n  realmId: main\n  resources:\n    \(fragment)\n")
        fixture.changed()
        #expect(
            fixture.log.all.contains { $0.contains("blog.yaml:7:") && $0.contains("spec.resources.") && $0.contains("rule=field-value") },
            "\(fixture.log.all)")
        #expect(fixture.record("main", "blog")?.metadata.labels == ["l": "x"], "held: the space keeps what it had")
        try fixture.write("blog.yaml", Self.space("blog", label: "fixed"))
        fixture.changed()
        #expect(fixture.record("main", "blog")?.metadata.labels == ["l": "fixed"])
    }

    @Test("a revision with an invalid file is held whole: no change from any file until every file is valid; drift is still repaired")
    func invalidRevisionHeldWhole() throws {
        let fixture = try Fixture(layout: layout, prune: true, allowEmpty: true)
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("a.yaml", Self.space("a"))
        try fixture.write("b.yaml", Self.space("b"))
        fixture.controller.start(now: 0)
        // One commit: a changed, c added, b broken.
        try fixture.write("a.yaml", Self.space("a", label: "new"))
        try fixture.write("c.yaml", Self.space("c"))
        try fixture.write("b.yaml", "kind: Space\nmetadata: {name: B_}\nspec: {realmId: main}\n")
        fixture.changed()
        #expect(fixture.record("main", "a")?.metadata.labels == ["l": "x"], "a's change is held")
        #expect(fixture.record("main", "c") == nil, "c is held")
        #expect(fixture.log.count("2 change(s) held while manifest file(s) are invalid") == 1, "\(fixture.log.all)")
        // Drift of what was applied is still repaired, as it was applied.
        fixture.host.state.withLock { $0.links["kuke-main-a"] = nil }
        fixture.controller.handle(.resync(reason: "periodic"), now: 5)
        #expect(fixture.host.state.withLock { $0.links["kuke-main-a"] } != nil)
        #expect(fixture.record("main", "a")?.metadata.labels == ["l": "x"])
        #expect(fixture.log.count("2 change(s) held") == 1, "logged once per set")
        // Fixed: the revision is applied whole.
        try fixture.write("b.yaml", Self.space("b"))
        fixture.changed()
        #expect(fixture.record("main", "a")?.metadata.labels == ["l": "new"])
        #expect(fixture.record("main", "c") != nil)
    }

    @Test("a space that stops selecting this host is pruned like a deleted manifest; a suspended one is logged, left alone and kept")
    func selectionAndSuspension() throws {
        let fixture = try Fixture(layout: layout, prune: true, labels: ["role": "web"])
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("a.yaml", Self.space("a"))
        try fixture.write("b.yaml", Self.space("b"))
        fixture.controller.start(now: 0)
        #expect(fixture.record("main", "a") != nil && fixture.record("main", "b") != nil)
        // b now selects database hosts only: gone from this web host, as if deleted.
        try fixture.write(
            "b.yaml",
            "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: b\n  labels: {l: x}\nspec: {realmId: main, hostSelector: {matchLabels: {role: db}}}\n"
        )
        fixture.changed()
        #expect(fixture.record("main", "b") == nil, "\(fixture.log.all)")
        #expect(fixture.log.count("Space main/b skipped: hostSelector role=db does not select this host") >= 1, "\(fixture.log.all)")
        // a suspended: its manifest changes and its bridge goes; neither is acted on, and deleting its file prunes nothing.
        _ = try Engine(layout: layout, drivers: fixture.host.drivers).suspend(SpaceID(realm: "main", name: "a"), reason: "maintenance")
        fixture.host.state.withLock { $0.links["kuke-main-a"] = nil }
        try fixture.write("a.yaml", Self.space("a", label: "new"))
        fixture.changed()
        #expect(fixture.log.count("Space main/a suspended: maintenance") == 1, "\(fixture.log.all)")
        #expect(fixture.record("main", "a")?.metadata.labels == ["l": "x"])
        #expect(fixture.host.state.withLock { $0.links["kuke-main-a"] } == nil)
        try FileManager.default.removeItem(atPath: "\(fixture.directory)/a.yaml")
        fixture.changed()
        #expect(fixture.record("main", "a") != nil)
    }

    @Test("a realm declared elsewhere: its recorded hostSelector decides which of its spaces this host keeps")
    func recordedRealmSelector() throws {
        let fixture = try Fixture(layout: layout, prune: true, allowEmpty: true, labels: ["role": "web"])
        try fixture.write("a.yaml", Self.space("a"))
        // The realm comes from another source (an apply on a host it selects).
        func recordRealm(selecting role: String) throws {
            var options = ApplyOptions()
            options.hostLabels = ["role": role]
            let realm = "kind: Realm\nmetadata: {name: main}\nspec: {hostSelector: {matchLabels: {role: \(role)}}}\n"
            let outcomes = try Engine(layout: layout, drivers: fixture.host.drivers).apply(
                ManifestDecoder.decode(realm, file: "r.yaml").resources, options: options)
            #expect(outcomes.first?.failure == nil, "\(outcomes)")
        }
        // Selecting web hosts: a is applied here and kept.
        try recordRealm(selecting: "web")
        fixture.controller.start(now: 0)
        #expect(fixture.record("main", "a") != nil, "\(fixture.log.all)")
        // Re-recorded selecting database hosts only: a is no longer this host's, and goes.
        try recordRealm(selecting: "db")
        fixture.controller.handle(.resync(reason: "test"), now: 1)
        #expect(fixture.record("main", "a") == nil, "\(fixture.log.all)")
    }

    @Test("/healthz counts only passes that reached the host: passes failing before any resource let it go stale")
    func healthAfterHostFailures() throws {
        let fixture = try Fixture(layout: layout)
        let metrics = WatchMetrics(build: [], resyncInterval: 0.01)  // stale after 20 ms
        fixture.controller.metrics = metrics
        try fixture.write("realm.yaml", Self.realm)
        fixture.controller.start(now: 0)
        #expect(metrics.health().ready)
        Thread.sleep(forTimeInterval: 0.05)
        // From now on every pass fails host-wide (the run path cannot be listed).
        fixture.host.state.withLock { $0.unlistable = ["/run"] }
        fixture.controller.handle(.resync(reason: "test"), now: 1)
        #expect(fixture.log.count("pass failed") >= 1, "\(fixture.log.all)")
        #expect(!metrics.health().alive, "the failed pass just now does not count: the last good one is 50 ms old")
        fixture.host.state.withLock { $0.unlistable = [] }
        fixture.controller.handle(.resync(reason: "test"), now: 2)
        #expect(metrics.health().alive)
    }

    @Test("two files declaring one space: a conflict for both, the space untouched")
    func duplicate() throws {
        let fixture = try Fixture(layout: layout, prune: true, allowEmpty: true)
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("blog.yaml", Self.space("blog"))
        fixture.controller.start(now: 0)
        try fixture.write("copy.yaml", Self.space("blog", label: "other"))
        fixture.changed()
        #expect(fixture.log.count("declared by more than one file") == 1)
        #expect(fixture.log.all.contains { $0.contains("blog.yaml") && $0.contains("copy.yaml") })
        #expect(fixture.record("main", "blog")?.metadata.labels == ["l": "x"])
    }

    @Test("orphans are reported, pruned only with --prune, and never all at once without --allow-empty")
    func pruning() throws {
        let quiet = try Fixture(layout: layout)
        try quiet.write("realm.yaml", Self.realm)
        try quiet.write("a.yaml", Self.space("a"))
        try quiet.write("b.yaml", Self.space("b"))
        quiet.controller.start(now: 0)
        try FileManager.default.removeItem(atPath: "\(quiet.directory)/b.yaml")
        quiet.changed()
        #expect(quiet.log.count("space main/b is orphaned") == 1)
        #expect(quiet.record("main", "b") != nil)

        let pruning = try Fixture(layout: layout, prune: true)
        try pruning.write("realm.yaml", Self.realm)
        try pruning.write("a.yaml", Self.space("a"))
        try pruning.write("b.yaml", Self.space("b"))
        pruning.controller.start(now: 0)
        try FileManager.default.removeItem(atPath: "\(pruning.directory)/b.yaml")
        pruning.changed()
        #expect(pruning.record("main", "b") == nil)
        #expect(pruning.record("main", "a") != nil)
        // An empty checkout would prune everything this watcher owns: refused.
        try FileManager.default.removeItem(atPath: "\(pruning.directory)/a.yaml")
        pruning.changed()
        #expect(pruning.record("main", "a") != nil)
        #expect(pruning.log.count("refusing to prune") == 1)
    }

    @Test("nothing is pruned while a manifest is invalid (a restart cannot know what it declared)")
    func invalidBlocksPrune() throws {
        let fixture = try Fixture(layout: layout, prune: true, allowEmpty: true)
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("a.yaml", Self.space("a"))
        try fixture.write("b.yaml", Self.space("b"))
        fixture.controller.start(now: 0)
        // A new watcher (a restart) finds b.yaml broken: b must survive.
        let restarted = WatchController(
            engine: Engine(layout: layout, drivers: fixture.host.drivers),
            options: WatchOptions(roots: [fixture.directory], prune: true, allowEmpty: true), logger: fixture.log.logger)
        try fixture.write("b.yaml", "kind: Space\nmetadata: {name: b\n")
        restarted.start(now: 0)
        #expect(fixture.record("main", "b") != nil)
        #expect(fixture.log.count("prune held: 1 manifest file(s) are invalid") == 1)
        #expect(restarted.statusLine.contains("prune held: 1 manifest file(s) are invalid"), "\(restarted.statusLine)")
    }

    @Test("a typo that renames a space never prunes the old one while the new one fails; fixing it ends the hold")
    func typoHoldsPrune() throws {
        let fixture = try Fixture(layout: layout, prune: true, allowEmpty: true)
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("blog.yaml", Self.space("blog"))
        try fixture.write("shop.yaml", Self.space("shop"))
        fixture.controller.start(now: 0)
        #expect(fixture.record("main", "blog") != nil)
        // realmId: main -> mian. main/blog is orphaned, mian/blog fails with RealmNotFound.
        try fixture.write("blog.yaml", Self.space("blog").replacingOccurrences(of: "{realmId: main}", with: "{realmId: mian}"))
        fixture.changed()
        #expect(fixture.controller.failing.values.map(\.reason) == [.realmNotFound])
        #expect(fixture.record("main", "blog") != nil, "the live space is kept")
        #expect(fixture.host.state.withLock { $0.links["kuke-main-blog"] } != nil)
        #expect(
            fixture.log.count("prune held: 1 declared resource(s) failed in the last pass (Space mian/blog: RealmNotFound)") == 1,
            "\(fixture.log.all)")
        #expect(fixture.controller.statusLine.contains("prune held:"))
        // Retries keep failing: still held, logged once.
        fixture.now += 5
        fixture.controller.handle(.tick, now: fixture.now)
        #expect(fixture.record("main", "blog") != nil)
        #expect(fixture.log.count("prune held:") == 1)
        // The typo fixed: blog is declared again, nothing is orphaned, the hold ends.
        try fixture.write("blog.yaml", Self.space("blog"))
        fixture.changed()
        #expect(fixture.record("main", "blog") != nil)
        #expect(!fixture.controller.statusLine.contains("prune held"))
        // A real removal, once everything converged, is pruned.
        try FileManager.default.removeItem(atPath: "\(fixture.directory)/shop.yaml")
        fixture.changed()
        #expect(fixture.record("main", "shop") == nil)
    }

    @Test("a space created by someone else is never pruned")
    func notOwned() throws {
        let fixture = try Fixture(layout: layout, prune: true, allowEmpty: true)
        _ = try Engine(layout: layout, drivers: fixture.host.drivers).apply([
            .realm(RealmManifest(metadata: ObjectMeta(name: "main"), origin: .command("t"))),
            .space(SpaceManifest(metadata: ObjectMeta(name: "manual"), spec: SpaceSpec(realmId: "main"), origin: .command("t"))),
        ])
        try fixture.write("realm.yaml", Self.realm)
        fixture.controller.start(now: 0)
        #expect(fixture.record("main", "manual") != nil)
    }

    @Test("a queue overflow or a deleted managed bridge repairs without a file change; failures back off")
    func repairs() throws {
        let fixture = try Fixture(layout: layout)
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("blog.yaml", Self.space("blog"))
        fixture.controller.start(now: 0)
        fixture.host.state.withLock { _ = $0.links.removeValue(forKey: "kuke-main-blog") }
        fixture.controller.handle(.overflow, now: 1)
        #expect(fixture.host.state.withLock { $0.links["kuke-main-blog"] } != nil)
        fixture.host.state.withLock { _ = $0.links.removeValue(forKey: "kuke-main-blog") }
        fixture.controller.handle(.linkDeleted("kuke-main-blog"), now: 2)
        #expect(fixture.host.state.withLock { $0.links["kuke-main-blog"] } != nil)

        fixture.host.state.withLock {
            $0.failures["createBridge"] = HostError(
                "bridge: create failed: Resource temporarily unavailable (EAGAIN)", errno: .resourceTemporarilyUnavailable)
        }
        fixture.host.state.withLock { _ = $0.links.removeValue(forKey: "kuke-main-blog") }
        fixture.controller.handle(.linkDeleted("kuke-main-blog"), now: 3)
        #expect(fixture.log.count("failed; next attempt in 1s") == 1)
        #expect(fixture.controller.statusLine.contains("failed 1"))
        #expect(fixture.controller.statusLine(now: 3).contains("Space main/blog BridgeFailed, next attempt at "))
        fixture.controller.handle(.tick, now: 3.5)
        #expect(fixture.log.count("next attempt in") == 1)  // not yet due
        fixture.controller.handle(.tick, now: 4.1)
        #expect(fixture.log.count("failed; next attempt in 2s") == 1)
        fixture.host.state.withLock { $0.failures = [:] }
        fixture.controller.handle(.tick, now: 6.2)
        #expect(fixture.controller.statusLine.hasPrefix("ready 2, failed 0"))
    }

    @Test("a permanent failure is not retried on a timer: it waits for a manifest change, a pass that changed the host, a resync or SIGHUP")
    func permanentFailures() throws {
        let fixture = try Fixture(layout: layout)
        try fixture.write("blog.yaml", Self.space("blog"))
        fixture.controller.start(now: 0)
        #expect(fixture.log.count("Space main/blog failed; retried when the manifests or the host change") == 1, "\(fixture.log.all)")
        #expect(fixture.controller.statusLine(now: 0).contains("Space main/blog RealmNotFound, waits for a change"))
        let passes = fixture.controller.passes
        fixture.wait(until: 100)
        #expect(fixture.controller.passes == passes, "no backoff timer for RealmNotFound")
        // The realm arrives in another file: every permanent failure is tried again with it.
        try fixture.write("realm.yaml", Self.realm)
        fixture.now = 100
        fixture.changed()
        #expect(fixture.record("main", "blog")?.status.state == .ready)
        #expect(fixture.controller.statusLine.hasPrefix("ready 2, failed 0"))
    }

    @Test("a realm's changed spec runs its spaces too: spec.network.ipv6 on the realm makes them dual-stack in the same pass")
    func realmDefaultsRequeueSpaces() throws {
        var layout = self.layout
        layout.ipv6Pool = IPv6Subnet("fd00:88::/48")
        let fixture = try Fixture(layout: layout)
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("blog.yaml", Self.space("blog"))
        fixture.controller.start(now: 0)
        #expect(fixture.record("main", "blog")?.status.network?.ipv6Subnet == nil)
        try fixture.write("realm.yaml", Self.realm + "spec:\n  network: {ipv6: true}\n")
        fixture.now = 1
        fixture.changed()
        #expect(fixture.record("main", "blog")?.status.network?.ipv6Subnet?.description == "fd00:88::/64")
    }

    @Test("a permanent failure waiting on another resource is tried again once that one's retry changes the host")
    func permanentAfterTransient() throws {
        let fixture = try Fixture(layout: layout)
        fixture.host.state.withLock {
            $0.failures["write /run/main/realm.yaml"] = HostError("write failed: No space left on device (ENOSPC)", errno: .noSpace)
        }
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("blog.yaml", Self.space("blog"))
        fixture.controller.start(now: 0)
        #expect(fixture.log.count("Realm main failed; next attempt in 1s") == 1, "\(fixture.log.all)")
        #expect(fixture.log.count("Space main/blog failed; retried when") == 1, "\(fixture.log.all)")
        fixture.host.state.withLock { $0.failures = [:] }
        fixture.wait(until: 1.1)  // the realm's retry creates it ...
        fixture.wait(until: 1.2)  // ... and the space, queued by that change, follows
        #expect(fixture.record("main", "blog")?.status.state == .ready, "\(fixture.log.all)")
        #expect(fixture.controller.statusLine.hasPrefix("ready 2, failed 0"))
    }

    @Test("a host failure refused for permission (EPERM, EACCES, EROFS) is permanent whatever its reason; others keep their reason's")
    func errnoPersistence() {
        #expect(Failure(.bridgeFailed, "x", errno: .notPermitted).persistence == .permanent)
        #expect(Failure(.metadataWriteFailed, "x", errno: .readOnlyFileSystem).persistence == .permanent)
        #expect(Failure(.bridgeFailed, "x", errno: .resourceTemporarilyUnavailable).persistence == .transient)
        #expect(Failure(.cgroupBusy, "x").persistence == .transient)
        #expect(Failure(.nameConflict, "x").persistence == .permanent)
        #expect(Failure.host(.cgroupFailed, HostError("rmdir: Device or resource busy (EBUSY)", errno: .resourceBusy)).errno == .resourceBusy)
    }
}
