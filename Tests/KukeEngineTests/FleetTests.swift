import Foundation
import KukeModel
import KukeTestSupport
import Testing

@testable import KukeEngine

/// Host selectors, suspension and inventory pruning against an in-memory host.
@Suite("Fleet: selectors, suspend, prune")
struct FleetTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    func engine(_ host: FakeHost) -> Engine { Engine(layout: layout, drivers: host.drivers, clock: { Date(timeIntervalSince1970: 1_800_000_000) }) }

    /// Decodes manifests as a file would hold them (the selectors go through the real decoder).
    func manifests(_ text: String) throws -> [Resource] {
        let (resources, issues) = ManifestDecoder.decode(text, file: "fleet.yaml")
        #expect(issues.isEmpty, "\(issues)")
        return resources
    }

    static let fleet = """
        kind: Realm
        metadata: {name: main}
        spec:
          hostSelector:
            matchExpressions: [{key: site, operator: In, values: [fra, ams]}]
        ---
        kind: Space
        metadata: {name: web}
        spec:
          realmId: main
          hostSelector: {matchLabels: {role: web}}
        ---
        kind: Space
        metadata: {name: db}
        spec:
          realmId: main
          hostSelector:
            matchLabels: {role: db}
            matchExpressions: [{key: gpu, operator: DoesNotExist}]
        ---
        kind: Space
        metadata: {name: shared}
        spec: {realmId: main}
        """

    func apply(_ resources: [Resource], on host: FakeHost, labels: [String: String], owner: String? = nil) throws -> [String: Outcome] {
        var options = ApplyOptions(managedBy: owner)
        options.hostLabels = labels
        let outcomes = try engine(host).apply(resources, options: options)
        return Dictionary(uniqueKeysWithValues: outcomes.map { ($0.displayName, $0.outcome) })
    }

    @Test("a host applies what selects it; the rest is skipped with the selector named, and left untouched")
    func selection() throws {
        let resources = try manifests(Self.fleet)
        let web = FakeHost()
        let outcomes = try apply(resources, on: web, labels: ["site": "fra", "role": "web"])
        #expect(outcomes["main"] == .created && outcomes["main/web"] == .created && outcomes["main/shared"] == .created, "\(outcomes)")
        #expect(outcomes["main/db"] == .skipped)
        #expect(web.state.withLock { $0.files["/run/main/db/space.yaml"] } == nil)
        var options = ApplyOptions()
        options.hostLabels = ["site": "fra", "role": "web"]
        let db = try engine(web).apply(resources, options: options).first { $0.name == "db" }
        #expect(db?.note == "hostSelector role=db,!gpu does not select this host", "\(String(describing: db))")

        // Another site: the realm's selector leaves out the realm and every space of it.
        let elsewhere = FakeHost()
        let far = try apply(resources, on: elsewhere, labels: ["site": "nyc", "role": "web"])
        #expect(far["main"] == .skipped && far["main/web"] == .skipped && far["main/shared"] == .skipped, "\(far)")
        var nyc = ApplyOptions()
        nyc.hostLabels = ["site": "nyc"]
        let note = try engine(elsewhere).apply(resources, options: nyc).last { $0.name == "shared" }?.note
        #expect(note == "realm main's hostSelector site in (fra,ams) does not select this host")
        #expect(elsewhere.state.withLock { $0.files.isEmpty })
    }

    @Test("a suspended space is neither changed nor repaired, not deleted; resumed, it converges")
    func suspension() throws {
        let host = FakeHost()
        let resources = try manifests(Self.fleet)
        let labels = ["site": "fra", "role": "web"]
        _ = try apply(resources, on: host, labels: labels)
        let id = SpaceID(realm: "main", name: "web")
        let suspended = try engine(host).suspend(id, reason: "maintenance")
        #expect(suspended.outcome == .updated && suspended.note == "suspended: maintenance")
        #expect(try engine(host).suspend(id, reason: "maintenance").outcome == .unchanged)
        host.state.withLock { $0.links["kuke-main-web"] = nil }  // drift
        let before = host.log.count
        var options = ApplyOptions()
        options.hostLabels = labels
        let outcomes = try engine(host).apply(resources, options: options)
        let web = try #require(outcomes.first { $0.name == "web" })
        #expect(web.outcome == .suspended && web.note == "maintenance")
        #expect(!host.log.dropFirst(before).contains { $0.contains("kuke-main-web") }, "\(host.log.dropFirst(before))")
        let deleted = try engine(host).delete([.space(id)], cascade: true)
        #expect(deleted.first?.failure?.reason == .suspended, "\(deleted)")

        #expect(try engine(host).suspend(id, reason: nil).note == "resumed")
        let resumed = try apply(resources, on: host, labels: labels)
        #expect(resumed["main/web"] == .updated, "\(resumed)")
        #expect(host.state.withLock { $0.links["kuke-main-web"] } != nil)
    }

    @Test(
        "prune: what the inventory created and no longer declares or selects; never a suspended space; held after a failure or when it would empty the inventory"
    )
    func pruning() throws {
        let host = FakeHost()
        let owner = Pruning.owner(inventory: "web")
        let labels = ["site": "fra", "role": "web"]
        let resources = try manifests(Self.fleet)
        _ = try apply(resources, on: host, labels: labels, owner: owner)
        // A space applied without the inventory is not the inventory's.
        _ = try apply(try manifests("kind: Space\nmetadata: {name: manual}\nspec: {realmId: main}\n"), on: host, labels: labels)
        var inventory = try engine(host).inventory()
        #expect(Pruning.orphans(owner: owner, batch: resources, inventory: inventory, labels: labels).orphans.isEmpty)

        // The host's role changes: `web` no longer selects it; `shared` stays; `manual` is not the inventory's.
        let moved = ["site": "fra", "role": "db"]
        let (orphans, selected) = Pruning.orphans(owner: owner, batch: resources, inventory: inventory, labels: moved)
        #expect(orphans == [SpaceID(realm: "main", name: "web")] && selected == 2)  // db and shared
        #expect(Pruning.hold(outcomes: [], orphans: orphans, selected: selected, allowEmpty: false, hints: DataHints()) == nil)
        let failed = ResourceOutcome(kind: .space, realm: "main", name: "db", outcome: .failed, failure: Failure(.realmNotFound, "x"))
        #expect(
            Pruning.hold(outcomes: [failed], orphans: orphans, selected: selected, allowEmpty: false, hints: DataHints())?.hasPrefix(
                "1 resource(s) failed") == true)

        // Everything gone from the manifests: held unless --allow-empty.
        let realmOnly = try manifests("kind: Realm\nmetadata: {name: main}\nspec: {}\n")
        let all = Pruning.orphans(owner: owner, batch: realmOnly, inventory: inventory, labels: labels)
        #expect(all.orphans.count == 2 && all.selected == 0)
        #expect(
            Pruning.hold(outcomes: [], orphans: all.orphans, selected: all.selected, allowEmpty: false, hints: DataHints())?.contains(
                "hint: allowEmptyPrune(count: 2") == true)
        #expect(Pruning.hold(outcomes: [], orphans: all.orphans, selected: all.selected, allowEmpty: true, hints: DataHints()) == nil)

        // Suspended: never an orphan.
        _ = try engine(host).suspend(SpaceID(realm: "main", name: "web"), reason: "hold")
        inventory = try engine(host).inventory()
        #expect(Pruning.orphans(owner: owner, batch: resources, inventory: inventory, labels: moved).orphans.isEmpty)
    }
}
