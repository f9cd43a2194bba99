import KukeModel
import Testing

@testable import KukeEngine

@Suite("Planners (diff from hand-made observed states)")
struct PlannerTests {
    let conflist = Conflist(networkName: "main-blog", bridge: "kuke-main-blog", subnet: IPv4Subnet("10.88.1.0/24")!)
    let path = "/etc/cni/net.d/main-blog.conflist"
    let copy = "/opt/kukeon/main/blog/network.conflist"

    @Test("conflist: absent files are created, with a diff")
    func conflistAbsent() {
        let changes = ConflistPlanner.plan(desired: conflist, path: path, copyPath: copy, observed: .init(primary: nil, copy: nil))
        #expect(changes.map(\.action) == [.create, .create])
        #expect(changes.map(\.subject) == [path, copy])
        #expect(changes[0].diff?.contains("+  \"name\": \"main-blog\",") == true)
    }

    @Test("conflist: same JSON formatted differently is not drift")
    func conflistReformatted() {
        let compact = conflist.json.compactText
        #expect(ConflistPlanner.plan(desired: conflist, path: path, copyPath: copy, observed: .init(primary: compact, copy: conflist.text)).isEmpty)
        // ... unless a rewrite is asked for (kuke init --force-regenerate-cni).
        let forced = ConflistPlanner.plan(
            desired: conflist, path: path, copyPath: copy, observed: .init(primary: compact, copy: conflist.text), rewrite: true)
        #expect(forced.map(\.subject) == [path])
    }

    @Test("conflist: a changed value or broken JSON is rewritten")
    func conflistDrift() {
        let edited = conflist.text.replacingOccurrences(of: "10.88.1.0/24", with: "10.88.9.0/24")
        let changes = ConflistPlanner.plan(desired: conflist, path: path, copyPath: copy, observed: .init(primary: edited, copy: "{"))
        #expect(changes.map(\.action) == [.update, .update])
        #expect(changes[0].diff?.contains("-              \"subnet\": \"10.88.9.0/24\"") == true)
        #expect(changes[0].diff?.contains("+              \"subnet\": \"10.88.1.0/24\"") == true)
    }

    @Test("conflist: a moved conflist removes the old file after writing the new")
    func conflistMoved() {
        let changes = ConflistPlanner.plan(
            desired: conflist, path: path, copyPath: copy, observed: .init(primary: nil, copy: conflist.text, previousPath: "/old/main-blog.conflist")
        )
        #expect(changes.map(\.action) == [.create, .delete])
        #expect(changes.last?.operation == .removeFile(path: "/old/main-blog.conflist"))
    }

    @Test("bridge: missing is created and set up; down is set up; up is left alone")
    func bridge() throws {
        #expect(
            try BridgePlanner.plan(name: "kuke-x", observed: nil).map(\.operation) == [.createBridge(name: "kuke-x"), .setLinkUp(name: "kuke-x")])
        let down = ObservedLink(index: 3, name: "kuke-x", kind: "bridge", isUp: false)
        #expect(try BridgePlanner.plan(name: "kuke-x", observed: down).map(\.operation) == [.setLinkUp(name: "kuke-x")])
        var up = down
        up.isUp = true
        #expect(try BridgePlanner.plan(name: "kuke-x", observed: up).isEmpty)
    }

    @Test("bridge: a link of another kind is a conflict")
    func bridgeConflict() {
        let veth = ObservedLink(index: 3, name: "kuke-x", kind: "veth", isUp: true)
        #expect(throws: Failure.self) { try BridgePlanner.plan(name: "kuke-x", observed: veth) }
        do {
            _ = try BridgePlanner.plan(name: "kuke-x", observed: veth)
        } catch {
            #expect(error.reason == .bridgeConflict)
            #expect(error.message.contains("veth"))
        }
    }

    @Test("cgroup: missing levels are made top-down and what the root delegates is passed down; the root is never written")
    func cgroupMissing() {
        let levels = ["/cg/kukeon", "/cg/kukeon/main", "/cg/kukeon/main/blog"]
        let changes = CgroupPlanner.plan(
            root: "/cg", levels: levels, offered: ["cpu", "memory"], observed: ["/cg": ObservedCgroup(subtreeControl: ["cpu"])])
        #expect(
            changes.map(\.operation) == [
                .makeCgroup(path: "/cg/kukeon"), .enableControllers(path: "/cg/kukeon", controllers: ["cpu", "memory"]),
                .makeCgroup(path: "/cg/kukeon/main"), .enableControllers(path: "/cg/kukeon/main", controllers: ["cpu", "memory"]),
                .makeCgroup(path: "/cg/kukeon/main/blog"), .enableControllers(path: "/cg/kukeon/main/blog", controllers: ["cpu", "memory"]),
            ])
    }

    @Test("cgroup: converged tree needs nothing, and extra controllers enabled by hand are kept")
    func cgroupConverged() {
        let levels = ["/cg/kukeon"]
        let observed = ["/cg": ObservedCgroup(subtreeControl: ["cpu", "io"]), "/cg/kukeon": ObservedCgroup(subtreeControl: ["cpu", "io"])]
        #expect(CgroupPlanner.plan(root: "/cg", levels: levels, offered: ["cpu"], observed: observed).isEmpty)
        #expect(CgroupPlanner.predictedSubtree(of: "/cg/kukeon", offered: ["cpu"], observed: observed) == ["cpu", "io"])
    }

    @Test("cgroup: nothing offered (a hybrid host's cgroup2) still makes the directories")
    func cgroupNothingOffered() {
        let changes = CgroupPlanner.plan(root: "/cg", levels: ["/cg/kukeon"], offered: [], observed: ["/cg": ObservedCgroup(subtreeControl: [])])
        #expect(changes.map(\.operation) == [.makeCgroup(path: "/cg/kukeon")])
    }

    @Test("metadata: only updatedAt differing is no change; anything else is")
    func metadata() {
        let record = SpaceRecord(
            metadata: ObjectMeta(name: "blog", generation: 1), spec: SpaceSpec(realmId: "main"),
            status: SpaceStatus(state: .ready, updatedAt: Timestamp.parse("2026-01-01T00:00:00Z")))
        var later = record
        later.status.updatedAt = Timestamp.parse("2026-02-01T00:00:00Z")
        #expect(
            MetadataPlanner.plan(
                path: "/x", desired: RecordCodec.value(of: later), stored: RecordCodec.value(of: record), storedText: nil, mode: 0o644) == nil)
        later.metadata.labels = ["a": "b"]
        let change = MetadataPlanner.plan(
            path: "/x", desired: RecordCodec.value(of: later), stored: RecordCodec.value(of: record),
            storedText: RecordCodec.recordText(RecordCodec.value(of: record)), mode: 0o644)
        #expect(change?.action == .update)
        #expect(change?.diff?.contains("+  labels:") == true)
    }

    @Test("unified diff hunks")
    func unifiedDiff() {
        let old = (1...20).map(String.init).joined(separator: "\n") + "\n"
        let new = old.replacingOccurrences(of: "\n10\n", with: "\nten\n")
        let diff = UnifiedDiff.make(old: old, new: new, oldLabel: "a", newLabel: "b")
        #expect(diff == "--- a\n+++ b\n@@ -7,7 +7,7 @@\n 7\n 8\n 9\n-10\n+ten\n 11\n 12\n 13\n")
        #expect(UnifiedDiff.make(old: old, new: old, oldLabel: "a", newLabel: "b") == nil)
        #expect(UnifiedDiff.make(old: nil, new: "x\ny\n", oldLabel: "a", newLabel: "b") == "--- /dev/null\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n")
        #expect(UnifiedDiff.make(old: "x\ny\n", new: nil, oldLabel: "a", newLabel: "b") == "--- a\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n")
        // Two hunks far apart, lines moved within one: the shared start and end are kept.
        let moved = new.replacingOccurrences(of: "\n19\n20\n", with: "\n20\n19\n")
        let twice = UnifiedDiff.make(old: old, new: moved, oldLabel: "a", newLabel: "b") ?? ""
        let swapped = (twice.contains("-19\n") && twice.contains("+19\n")) || (twice.contains("-20\n") && twice.contains("+20\n"))
        #expect(twice.components(separatedBy: "@@ -").count == 3 && twice.contains("+ten") && swapped, "\(twice)")
    }

    @Test("the diff of a large table with one rule changed is found without a table of every pair of lines")
    func largeDiff() {
        let old = (1...20_000).map { "rule \($0)" }
        var new = old
        new[10_000] = "rule changed"
        let diff = UnifiedDiff.make(oldLines: old, newLines: new, oldLabel: "a", newLabel: "b")
        #expect(
            diff
                == "--- a\n+++ b\n@@ -9998,7 +9998,7 @@\n rule 9998\n rule 9999\n rule 10000\n-rule 10001\n+rule changed\n rule 10002\n rule 10003\n rule 10004\n"
        )
    }
}
