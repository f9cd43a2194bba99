import Foundation
import KukeEngine
import KukeHost
import KukeModel
import Testing

@testable import KukeWatch

/// What a manifest file looks like for a moment while it is replaced.
enum Transient: String, CaseIterable, CustomStringConvertible {
    /// `cp`, `scp`, `rsync --inplace`: truncated, then written.
    case empty
    case whitespace
    /// A link swapped, or its target replaced, by a tool that is not atomic.
    case danglingLink
    /// A directory where the file was.
    case directory

    var description: String { rawValue }

    /// Puts the transient where `path` is.
    func make(at path: String) throws {
        switch self {
        case .empty: try "".write(toFile: path, atomically: false, encoding: .utf8)
        case .whitespace: try "  \n\t\n".write(toFile: path, atomically: false, encoding: .utf8)
        case .danglingLink:
            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "gone/target.yaml")
        case .directory:
            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }
    }

    /// What the warning says of it.
    var reason: String {
        switch self {
        case .empty: "is empty"
        case .whitespace: "holds only whitespace"
        case .danglingLink: "is a symbolic link to gone/target.yaml, which does not exist"
        case .directory: "is a directory where a manifest file is expected"
        }
    }
}

extension WatchControllerTests {
    @Test(
        "under --prune a file being replaced holds prune as an invalid file does, even with no grace: one warning, STATUS says it, nothing of its space changes",
        arguments: Transient.allCases)
    func transientHoldsPrune(_ transient: Transient) throws {
        let fixture = try Fixture(layout: layout, prune: true, grace: 0)
        try fixture.write("realm.yaml", Self.realm)
        for name in ["a", "b", "c"] { try fixture.write("\(name).yaml", Self.space(name)) }
        fixture.controller.start(now: 0)
        let before = try #require(fixture.record("main", "b"))
        let index = fixture.bridgeIndex("b")
        // b.yaml is being replaced while c.yaml is removed for real: c must wait for b.
        let path = "\(fixture.directory)/b.yaml"
        try transient.make(at: path)
        try FileManager.default.removeItem(atPath: "\(fixture.directory)/c.yaml")
        fixture.changed()
        #expect(fixture.record("main", "b") == before, "b untouched")
        #expect(fixture.bridgeIndex("b") == index)
        #expect(fixture.record("main", "c") != nil, "no prune while b.yaml is being replaced: \(fixture.log.all)")
        let warning = "\(path):1:1: \(transient.reason)"
        #expect(fixture.log.count(warning) == 1, "\(fixture.log.all)")
        #expect(
            fixture.log.all.contains { $0.contains(warning) && $0.contains("[transient]; what it declared is kept, and changes and prune are held") })
        #expect(
            fixture.log.count("prune held: 1 manifest file(s) being replaced, so what they declare is unknown (\(path) \(transient.reason)") == 1,
            "\(fixture.log.all)")
        #expect(
            fixture.controller.statusLine.contains("files being replaced 1; prune held: 1 manifest file(s) being replaced"),
            "\(fixture.controller.statusLine)")
        #expect(!fixture.controller.statusLine.contains("invalid files"))
        // Still so at the next resync: nothing more is logged, nothing changes.
        fixture.controller.handle(.resync(reason: "test"), now: 5)
        #expect(fixture.log.count(warning) == 1 && fixture.log.count("prune held:") == 1, "\(fixture.log.all)")
        #expect(fixture.record("main", "b") == before && fixture.record("main", "c") != nil)
        // The copy finishes: b is as it was, and the real removal of c goes ahead.
        try? FileManager.default.removeItem(atPath: path)
        try fixture.write("b.yaml", Self.space("b"))
        fixture.now = 6
        fixture.changed()
        #expect(fixture.record("main", "b") == before)
        #expect(fixture.bridgeIndex("b") == index)
        #expect(fixture.record("main", "c") == nil, "\(fixture.log.all)")
        #expect(fixture.log.count("manifest is valid again") == 1)
        #expect(!fixture.controller.statusLine.contains("prune held"))
    }

    @Test("without --prune a file being replaced is what it looks like: an empty file declares nothing, its space is only reported orphaned")
    func transientWithoutPrune() throws {
        let fixture = try Fixture(layout: layout)
        try fixture.write("realm.yaml", Self.realm)
        try fixture.write("b.yaml", Self.space("b"))
        fixture.controller.start(now: 0)
        try Transient.empty.make(at: "\(fixture.directory)/b.yaml")
        fixture.changed()
        #expect(fixture.log.count("space main/b is orphaned") == 1, "\(fixture.log.all)")
        #expect(fixture.log.count("[transient]") == 0)
        #expect(fixture.record("main", "b") != nil)
    }

    @Test("--prune-grace: a space gone for less than the grace is kept and said so; back within it, nothing of it changed")
    func graceKeepsAndReturns() throws {
        let fixture = try Fixture(layout: layout, prune: true, grace: 30)
        try fixture.write("realm.yaml", Self.realm)
        for name in ["a", "b"] { try fixture.write("\(name).yaml", Self.space(name)) }
        fixture.controller.start(now: 0)
        let before = try #require(fixture.record("main", "b"))
        let index = fixture.bridgeIndex("b")
        let passes = fixture.controller.passes
        try FileManager.default.removeItem(atPath: "\(fixture.directory)/b.yaml")
        fixture.changed()  // read at 0.2: b gone
        #expect(fixture.record("main", "b") == before)
        let held = "prune held: 1 orphaned space(s) (main/b) gone for less than --prune-grace 30s and two reads of the directories"
        #expect(fixture.log.count(held) == 1, "\(fixture.log.all)")
        #expect(fixture.controller.statusLine.contains("; prune held: 1 orphaned space(s) (main/b) gone for less than --prune-grace 30s"))
        #expect(fixture.controller.nextWake == 30.2, "the directories are read again when the grace ends")
        // A second read within the grace (another file changed): still kept, logged once.
        try fixture.write("a.yaml", Self.space("a", label: "two"))
        fixture.now = 10
        fixture.changed()
        #expect(fixture.record("main", "b") == before && fixture.log.count(held) == 1)
        // Back before the grace ended: the same record, the same bridge, no pass for it.
        try fixture.write("b.yaml", Self.space("b"))
        fixture.now = 20
        fixture.changed()
        fixture.wait(until: 40)
        #expect(fixture.record("main", "b") == before)
        #expect(fixture.bridgeIndex("b") == index)
        #expect(fixture.controller.passes == passes + 2, "a's change and b's return: \(fixture.log.all)")
        #expect(fixture.log.count("prune no longer held") == 1)
        #expect(fixture.log.count("Space main/b deleted") == 0 && fixture.log.count("Space main/b created") == 1, "created once, at the start")
    }

    @Test("--prune-grace: gone past the grace and over two reads, the space is pruned at the read that ends the grace")
    func graceThenPrune() throws {
        let fixture = try Fixture(layout: layout, prune: true, grace: 30)
        try fixture.write("realm.yaml", Self.realm)
        for name in ["a", "b"] { try fixture.write("\(name).yaml", Self.space(name)) }
        fixture.controller.start(now: 0)
        try FileManager.default.removeItem(atPath: "\(fixture.directory)/b.yaml")
        fixture.changed()  // first read without b at 0.2
        fixture.wait(until: 30.1)
        #expect(fixture.record("main", "b") != nil, "not yet 30 s")
        fixture.wait(until: 30.2)  // the grace ends: the directories are read again, b is still gone
        #expect(fixture.record("main", "b") == nil, "\(fixture.log.all)")
        #expect(fixture.host.state.withLock { $0.links["kuke-main-b"] } == nil)
        #expect(fixture.record("main", "a") != nil)
        #expect(fixture.log.count("prune no longer held") == 1)
    }

    @Test("the grace counts reads: gone for the grace but seen by one read only is kept until a second read")
    func graceNeedsTwoReads() {
        let b = SpaceID(realm: "main", name: "b")
        var grace = PruneGrace(seconds: 30)
        grace.observe(orphans: [b], now: 0, read: 1)
        #expect(!grace.isRipe(b, now: 29, read: 1))
        #expect(!grace.isRipe(b, now: 100, read: 1), "a pass long after, without a new read of the directories")
        #expect(grace.recheck(of: [b], now: 100) == 100, "read again at once")
        #expect(!grace.isRipe(b, now: 29, read: 2))
        #expect(grace.isRipe(b, now: 30, read: 2))
        // Back, then gone again: the grace starts over.
        grace.observe(orphans: [], now: 31, read: 3)
        grace.observe(orphans: [b], now: 32, read: 4)
        #expect(!grace.isRipe(b, now: 40, read: 5))
        #expect(grace.recheck(of: [b], now: 40) == 62)
        #expect(PruneGrace(seconds: 0).isRipe(b, now: 0, read: 0), "0s: today's behaviour, pruned at the first read")
        #expect([30, 120, 150, 1.5, 0.5].map { PruneGrace(seconds: $0).text } == ["30s", "2m", "150s", "1.5s", "500ms"])
    }

    @Test("a file listed, then gone before it is read, is a transient of the revision")
    func vanishedBetweenListingAndReading() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-vanish-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.space("b").write(toFile: "\(directory)/b.yaml", atomically: true, encoding: .utf8)
        let loader = ManifestLoader.local(readStandardInput: { Data() }, refusingTransients: true)
        let listed = try loader.files(for: directory)
        try FileManager.default.removeItem(atPath: "\(directory)/b.yaml")
        let (resources, issues) = loader.load(file: listed[0])
        #expect(resources.isEmpty)
        #expect(issues.map(\.description) == ["\(directory)/b.yaml:1:1: vanished between listing and reading (a file being replaced?) [transient]"])
    }
}
