import Foundation
import KukeModel
import KukeTestSupport
import Testing

@testable import KukeEngine

/// A part the engine does not know, defined only here: the space's bridge keeps
/// `net.ipv4.conf.<bridge>.rp_filter = 1`, set at run time (`/proc/sys/…`) and persisted in a
/// sysctl drop-in (`/etc/sysctl.d/60-kuke-<realm>-<space>.conf`) that a delete removes. It
/// comes after the bridge, whose entries under /proc/sys exist only once the bridge does.
struct SysctlPart: SpacePart {
    static let part = Part("sysctl", failureReason: .bridgeFailed)
    var part: Part { Self.part }
    var phase: Int { 400 }

    static func runtimePath(_ bridge: String) -> String { "/proc/sys/net/ipv4/conf/\(bridge)/rp_filter" }
    static func dropInPath(_ id: SpaceID) -> String { "/etc/sysctl.d/60-kuke-\(id.realm)-\(id.name).conf" }

    func plan(_ space: DesiredSpace, status: inout SpaceStatus, context: PassContext) throws(Failure) -> PartPlan {
        let bridge = space.network.bridge
        let files = [
            (Self.dropInPath(space.id), "net.ipv4.conf.\(bridge).rp_filter = 1\n"),
            (Self.runtimePath(bridge), "1\n"),
        ]
        var changes: [Change] = []
        for (path, wanted) in files {
            let current = try read(path, context)
            guard current != wanted else { continue }
            changes.append(
                Change(
                    part: Self.part, action: current == nil ? .create : .update, subject: path, summary: "set \(path)",
                    diff: .lines(old: current.map { [$0] }, new: [wanted], label: path),
                    operation: .action(
                        PartAction("write \(path)") { drivers throws(HostError) in try drivers.files.write(path, wanted, mode: 0o644) }
                    )))
        }
        return PartPlan(changes: changes)
    }

    /// The run-time value is read back before the space is `Ready`.
    func confirm(_ id: SpaceID, status: inout SpaceStatus, context: PassContext) throws(Failure) {
        guard let bridge = status.network?.bridge else { return }
        guard try read(Self.runtimePath(bridge), context) == "1\n" else {
            throw Failure(.bridgeFailed, "\(Self.runtimePath(bridge)) does not hold 1")
        }
    }

    func teardown(_ space: DoomedSpace, context: PassContext) throws(Failure) -> PartPlan {
        let path = Self.dropInPath(space.id)
        guard try read(path, context) != nil else { return PartPlan() }
        return PartPlan(changes: [
            Change(
                part: Self.part, action: .delete, subject: path, summary: "remove \(path)",
                operation: .action(PartAction("remove \(path)") { drivers throws(HostError) in try drivers.files.remove(path) }))
        ])
    }

    func read(_ path: String, _ context: PassContext) throws(Failure) -> String? {
        do { return try context.drivers.files.read(path) } catch { throw Failure.host(.bridgeFailed, error) }
    }
}

/// The part seam: a part defined outside the engine goes through plan, apply, diff, the dry
/// run, delete and every crash point like kuke's own.
@Suite("Space parts")
struct SpacePartTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    func engine(_ host: FakeHost) -> Engine {
        var engine = Engine(layout: layout, drivers: host.drivers, clock: { Date(timeIntervalSince1970: 1_800_000_000) })
        engine.parts = SpaceParts.standard + [SysctlPart()]
        return engine
    }

    func realm(_ name: String) -> Resource { .realm(RealmManifest(metadata: ObjectMeta(name: name), origin: .command("test"))) }

    func space(_ name: String, labels: [String: String] = [:]) -> Resource {
        .space(SpaceManifest(metadata: ObjectMeta(name: name, labels: labels), spec: SpaceSpec(realmId: "main"), origin: .command("test")))
    }

    func file(_ host: FakeHost, _ path: String) -> String? { host.state.withLock { $0.files[path] } }

    @Test("standard parts are ordered cgroup, conflist, bridge; an added part takes its phase, wherever it is listed")
    func phases() {
        let context = PassContext(
            layout: layout, drivers: FakeHost().drivers, now: Date(), dryRun: false, parts: [SysctlPart()] + SpaceParts.standard)
        #expect(context.parts.map(\.part) == [.cgroup, .conflist, .bridge, SysctlPart.part])
    }

    @Test("a part defined in a test: planned, shown by the dry run and diff, applied after the bridge, converged, repaired, read back")
    func planApplyDiff() throws {
        let host = FakeHost()
        let dry = try engine(host).apply([realm("main"), space("a")], options: ApplyOptions(dryRun: true))
        let planned = dry[1].changes.filter { $0.part == SysctlPart.part }
        #expect(planned.map(\.subject) == [SysctlPart.dropInPath(SpaceID(realm: "main", name: "a")), SysctlPart.runtimePath("kuke-main-a")])
        #expect(planned.allSatisfy { $0.action == .create })
        #expect(planned[1].diff?.contains("+1") == true, "\(planned[1].diff ?? "")")
        #expect(host.log.isEmpty, "a dry run changes nothing: \(host.log)")

        let outcomes = try engine(host).apply([realm("main"), space("a")])
        #expect(outcomes.map(\.outcome) == [.created, .created])
        #expect(file(host, SysctlPart.runtimePath("kuke-main-a")) == "1\n")
        #expect(file(host, SysctlPart.dropInPath(SpaceID(realm: "main", name: "a"))) == "net.ipv4.conf.kuke-main-a.rp_filter = 1\n")
        let log = host.log
        let bridge = try #require(log.firstIndex(of: "setUp kuke-main-a"))
        let sysctl = try #require(log.firstIndex(of: "write \(SysctlPart.runtimePath("kuke-main-a"))"))
        #expect(bridge < sysctl && sysctl < log.lastIndex(of: "write /run/main/a/space.yaml")!, "after the bridge, before Ready: \(log)")

        let before = host.log.count
        #expect(try engine(host).apply([realm("main"), space("a")]).map(\.outcome) == [.unchanged, .unchanged])
        #expect(host.log.count == before)

        // Changed by hand: diff shows it under the part's name, apply puts it back.
        host.state.withLock { $0.files[SysctlPart.runtimePath("kuke-main-a")] = "0\n" }
        let drift = try engine(host).apply([realm("main"), space("a")], options: ApplyOptions(dryRun: true))[1]
        #expect(drift.changes.map(\.part) == [SysctlPart.part])
        #expect(drift.changes.first?.action == .update)
        #expect(drift.changes.first?.diff?.contains("-0") == true)
        #expect(try engine(host).apply([realm("main"), space("a")])[1].outcome == .updated)
        #expect(file(host, SysctlPart.runtimePath("kuke-main-a")) == "1\n")
    }

    @Test("what an interrupted write of a part left goes first, with the record's own, before any part's changes")
    func leftoversFirst() throws {
        let host = FakeHost()
        let temporary = HostLayout.temporaryPath(of: "/cni/main-a.conflist")
        host.state.withLock { $0.files[temporary] = "{\"half" }
        let changes = try engine(host).apply([realm("main"), space("a")], options: ApplyOptions(dryRun: true))[1].changes
        #expect(changes.first?.subject == temporary && changes.first?.part == .conflist, "\(changes.map(\.summary))")
        _ = try engine(host).apply([realm("main"), space("a")])
        let log = host.log
        let removed = try #require(log.firstIndex(of: "remove \(temporary)"))
        let mkdir = try #require(log.firstIndex(of: "mkdir /cg/kukeon/main/a"))
        #expect(removed < mkdir, "\(log)")
        #expect(file(host, temporary) == nil && file(host, "/cni/main-a.conflist") != nil)
    }

    @Test("a change of the part the host refuses fails that space with the part's reason, never Ready; the others converge")
    func refused() throws {
        let host = FakeHost()
        host.state.withLock { $0.failures["write \(SysctlPart.runtimePath("kuke-main-b"))"] = HostError("read-only file system") }
        let outcomes = try engine(host).apply([realm("main"), space("a"), space("b")])
        #expect(outcomes.map(\.outcome) == [.created, .created, .failed])
        #expect(outcomes[2].failure?.reason == .bridgeFailed)
        let record = try RecordCodec.decodeSpace(try #require(file(host, "/run/main/b/space.yaml")), file: "b")
        #expect(record.status.state == .failed && record.status.reason == .bridgeFailed)
        // Written but not holding (a kernel that clamps the value): read back, the space is not Ready.
        host.state.withLock { $0.failures = [:] }
        var clamped = engine(host)
        clamped.parts = SpaceParts.standard + [SysctlPart(), ClampingPart()]
        let again = try clamped.apply([realm("main"), space("b")])
        #expect(again[1].outcome == .failed && again[1].failure?.message.contains("does not hold 1") == true, "\(again)")
    }

    @Test("delete takes the part down first (reverse phase order), and a part can refuse a delete before anything changes")
    func delete() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("a")])
        let id = SpaceID(realm: "main", name: "a")
        let dry = try engine(host).delete([.space(id)], cascade: false, dryRun: true)
        #expect(dry[0].changes.first?.part == SysctlPart.part && dry[0].changes.first?.subject == SysctlPart.dropInPath(id))
        let before = host.log.count
        var refusing = engine(host)
        refusing.parts.append(RefusingPart())
        let refused = try refusing.delete([.space(id)], cascade: false)
        #expect(refused[0].outcome == .failed && refused[0].failure?.reason == .hasChildren)
        #expect(host.log.count == before, "a refusal changes nothing: \(host.log.dropFirst(before))")

        let deleted = try engine(host).delete([.space(id)], cascade: false)
        #expect(deleted[0].outcome == .deleted)
        let log = Array(host.log.dropFirst(before))
        let removed = try #require(log.firstIndex(of: "remove \(SysctlPart.dropInPath(id))"))
        let bridge = try #require(log.firstIndex(of: "deleteLink kuke-main-a"), "\(log)")
        #expect(removed < bridge, "\(log)")
        #expect(file(host, SysctlPart.dropInPath(id)) == nil)
    }

    /// The host as a pass leaves it, but for the logs.
    func snapshot(_ host: FakeHost) -> String {
        host.state.withLock { state in
            "\(state.files.sorted { $0.key < $1.key })|\(state.links.keys.sorted())|\(state.cgroups.sorted { $0.key < $1.key })|\(state.cgroupFiles.sorted { $0.key < $1.key })"
        }
    }

    @Test("a crash after any mutating step of an apply or a delete (the part's own included) is repaired by a plain re-run")
    func crashPoints() throws {
        let baseline = [realm("main"), space("a"), space("b")]
        let change = [realm("main"), space("a"), space("b", labels: ["tier": "two"]), space("c")]
        let runs: [(name: String, run: (Engine) throws(HostError) -> Void)] = [
            ("apply", { engine throws(HostError) in _ = try engine.apply(change) }),
            (
                "delete",
                { engine throws(HostError) in
                    _ = try engine.delete([.space(SpaceID(realm: "main", name: "b")), .space(SpaceID(realm: "main", name: "a"))], cascade: false)
                }
            ),
        ]
        for (name, run) in runs {
            let reference = FakeHost()
            _ = try engine(reference).apply(baseline)
            try run(engine(reference))
            var crashes = 0
            var partCrashes = 0
            for k in 1...200 {
                let host = FakeHost()
                _ = try engine(host).apply(baseline)
                host.state.withLock { $0.crashAfter = k }
                try run(engine(host))
                guard host.crashed else { break }
                crashes += 1
                if host.state.withLock({ $0.crashedBefore?.contains("/proc/sys/") == true || $0.crashedBefore?.contains("sysctl.d") == true }) {
                    partCrashes += 1
                }
                host.state.withLock { $0.crashAfter = nil }
                if name == "delete" {
                    _ = try engine(host).delete(
                        [.space(SpaceID(realm: "main", name: "b")), .space(SpaceID(realm: "main", name: "a"))], cascade: false)
                } else {
                    try run(engine(host))
                }
                #expect(snapshot(host) == snapshot(reference), "\(name): crash after step \(k)")
            }
            #expect(crashes > 5 && partCrashes > 0, "\(name): \(crashes) crash points, \(partCrashes) in the part")
        }
    }
}

/// A part that writes nothing and reads back a value the kernel did not take.
struct ClampingPart: SpacePart {
    var part: Part { Part("clamp", failureReason: .bridgeFailed) }
    var phase: Int { 500 }
    func plan(_ space: DesiredSpace, status: inout SpaceStatus, context: PassContext) throws(Failure) -> PartPlan { PartPlan() }
    func confirm(_ id: SpaceID, status: inout SpaceStatus, context: PassContext) throws(Failure) {
        throw Failure(.bridgeFailed, "\(SysctlPart.runtimePath(status.network?.bridge ?? "")) does not hold 1 (the kernel kept 2)")
    }
    func teardown(_ space: DoomedSpace, context: PassContext) throws(Failure) -> PartPlan { PartPlan() }
}

/// A part that refuses every delete.
struct RefusingPart: SpacePart {
    var part: Part { Part("refuse", failureReason: .bridgeFailed) }
    var phase: Int { 50 }
    func plan(_ space: DesiredSpace, status: inout SpaceStatus, context: PassContext) throws(Failure) -> PartPlan { PartPlan() }
    func teardown(_ space: DoomedSpace, context: PassContext) throws(Failure) -> PartPlan {
        throw Failure(.hasChildren, "space \(space.id) has a child this part knows of (nothing was changed)")
    }
}
