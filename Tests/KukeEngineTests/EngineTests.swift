import Foundation
import KukeModel
import KukeTestSupport
import SystemPackage
import Testing

@testable import KukeEngine

/// The whole pass against an in-memory host: no root, no kernel.
@Suite("Engine")
struct EngineTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    func engine(_ host: FakeHost, at time: TimeInterval = 1_800_000_000) -> Engine {
        Engine(layout: layout, drivers: host.drivers, clock: { Date(timeIntervalSince1970: time) })
    }

    func realm(_ name: String) -> Resource { .realm(RealmManifest(metadata: ObjectMeta(name: name), origin: .command("test"))) }

    func space(_ name: String, realm: String = "main", labels: [String: String] = [:], cni: String? = nil, network: ManifestValue? = nil) -> Resource
    {
        .space(
            SpaceManifest(
                metadata: ObjectMeta(name: name, labels: labels), spec: SpaceSpec(realmId: realm, cniConfigPath: cni, network: network),
                origin: .command("test")))
    }

    @Test("apply creates the four parts in order, then a second apply changes nothing")
    func createThenUnchanged() throws {
        let host = FakeHost()
        let outcomes = try engine(host).apply([space("blog"), realm("main")])
        #expect(outcomes.map(\.outcome) == [.created, .created])
        #expect(outcomes.map(\.kind) == [.realm, .space])
        let log = host.log
        let order = [
            "write /run/main/blog/space.yaml", "mkdir /cg/kukeon/main/blog", "write /cni/main-blog.conflist", "createBridge kuke-main-blog",
            "setUp kuke-main-blog",
        ]
        let positions = order.map { entry in log.firstIndex(of: entry) ?? -1 }
        #expect(!positions.contains(-1), "\(log)")
        #expect(positions == positions.sorted(), "\(log)")
        #expect(log.last == "write /run/main/blog/space.yaml")  // metadata written last, Ready

        let record = try RecordCodec.decodeSpace(try #require(host.state.withLock { $0.files["/run/main/blog/space.yaml"] }), file: "x")
        #expect(record.status.state == .ready)
        #expect(
            record.status.network
                == SpaceNetworkStatus(
                    name: "main-blog", bridge: "kuke-main-blog", subnet: IPv4Subnet("10.88.0.0/24")!, conflistPath: "/cni/main-blog.conflist"))
        #expect(record.status.subtreeControllers == ["cpu", "memory", "pids"])
        #expect(record.metadata.generation == 1 && record.status.observedGeneration == 1)
        #expect(record.status.cgroupPath == "/cg/kukeon/main/blog" && record.status.cgroupReady)

        let before = host.log.count
        let again = try engine(host, at: 1_800_000_100).apply([realm("main"), space("blog")])
        #expect(again.map(\.outcome) == [.unchanged, .unchanged])
        #expect(host.log.count == before, "no write on a converged host: \(host.log.dropFirst(before))")
    }

    @Test("deleting several spaces takes their bridges down together first, each record marked Deleting before")
    func bridgesDeletedTogether() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("a"), space("b"), space("c")])
        let before = host.log.count
        let outcomes = try engine(host).delete(
            [.space(SpaceID(realm: "main", name: "a")), .space(SpaceID(realm: "main", name: "b"))], cascade: false)
        #expect(outcomes.prefix(2).allSatisfy { $0.outcome == .deleted }, "\(outcomes)")
        let log = Array(host.log.dropFirst(before))
        let firstOther = log.firstIndex { !$0.hasPrefix("write /run/main/") && !$0.hasPrefix("deleteLink") } ?? log.count
        #expect(
            Array(log.prefix(firstOther)) == [
                "write /run/main/a/space.yaml", "write /run/main/b/space.yaml", "deleteLink kuke-main-a", "deleteLink kuke-main-b",
            ], "\(log)")
        #expect(log.filter { $0 == "write /run/main/a/space.yaml" }.count == 1, "Deleting is written once: \(log)")
        #expect(host.state.withLock { $0.links["kuke-main-c"] } != nil)
    }

    @Test("dry run plans everything and changes nothing")
    func dryRun() throws {
        let host = FakeHost()
        let outcomes = try engine(host).apply([realm("main"), space("blog"), space("shop")], options: ApplyOptions(dryRun: true))
        #expect(outcomes.map(\.outcome) == [.created, .created, .created])
        #expect(outcomes[2].changes.contains { $0.summary.contains("kuke-main-shop") })
        #expect(host.log.isEmpty)
    }

    @Test("a space whose realm does not exist fails, the rest of the batch goes on")
    func realmNotFound() throws {
        let host = FakeHost()
        let outcomes = try engine(host).apply([realm("main"), space("x", realm: "ghost"), space("blog")])
        #expect(outcomes.map(\.outcome) == [.created, .failed, .created])
        #expect(outcomes[1].failure?.reason == .realmNotFound)
        #expect(!host.log.contains { $0.contains("ghost") })
    }

    @Test("two spaces mapping to one conflist: the second is a conflict, never an overwrite")
    func conflistConflict() throws {
        let host = FakeHost()
        let outcomes = try engine(host).apply([realm("a-b"), realm("a"), space("c", realm: "a-b"), space("b-c", realm: "a")])
        #expect(outcomes[2].outcome == .created)
        #expect(outcomes[3].outcome == .failed)
        #expect(outcomes[3].failure?.reason == .conflistConflict)
        #expect(outcomes[3].failure?.message.contains("a-b/c") == true)
        // With its own CNI directory the second space gets a conflist, but the bridge name is still taken.
        let retry = try engine(host).apply([space("b-c", realm: "a", cni: "/other")])
        #expect(retry[0].failure?.reason == .bridgeConflict)
    }

    @Test("a bridge name held by a veth, or by a bridge kuke did not create, is a conflict")
    func bridgeConflicts() throws {
        let host = FakeHost()
        host.state.withLock { $0.links["kuke-main-blog"] = ObservedLink(index: 5, name: "kuke-main-blog", kind: "veth", isUp: true) }
        host.state.withLock { $0.links["kuke-main-shop"] = ObservedLink(index: 6, name: "kuke-main-shop", kind: "bridge", isUp: true) }
        let outcomes = try engine(host).apply([realm("main"), space("blog"), space("shop")])
        #expect(outcomes[1].failure?.reason == .bridgeConflict)
        #expect(outcomes[1].failure?.message.contains("veth") == true)
        #expect(outcomes[2].failure?.reason == .bridgeConflict)
        #expect(!host.log.contains { $0.contains("space.yaml") })
    }

    @Test("a conflist kuke did not write is never overwritten")
    func foreignConflist() throws {
        let host = FakeHost()
        host.state.withLock { $0.files["/cni/main-blog.conflist"] = "{\"name\": \"handmade\"}" }
        let outcomes = try engine(host).apply([realm("main"), space("blog")])
        #expect(outcomes[1].failure?.reason == .conflistConflict)
        #expect(host.state.withLock { $0.files["/cni/main-blog.conflist"] } == "{\"name\": \"handmade\"}")
    }

    @Test("subnets skip host addresses and routes, and an exhausted pool is reported per space")
    func subnets() throws {
        let host = FakeHost()
        host.state.withLock {
            $0.occupied = [
                OccupiedSubnet(subnet: IPv4Subnet("10.88.0.0/24")!, linkName: "eth0"),
                OccupiedSubnet(subnet: IPv4Subnet("0.0.0.0/0")!, linkName: "eth0"),
            ]
        }
        let small = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/23")!)
        let engine = Engine(layout: small, drivers: host.drivers)
        let outcomes = try engine.apply([realm("main"), space("a"), space("b")])
        #expect(outcomes[1].outcome == .created)
        #expect(outcomes[2].failure?.reason == .subnetPoolExhausted)
        let record = try RecordCodec.decodeSpace(host.state.withLock { $0.files["/run/main/a/space.yaml"] }!, file: "x")
        #expect(record.status.network?.subnet == IPv4Subnet("10.88.1.0/24"))
    }

    @Test("the subnet and bridge are read back from the record, never recomputed")
    func stableNetwork() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("a"), space("b")])
        _ = try engine(host).delete([.space(SpaceID(realm: "main", name: "a"))], cascade: false)
        // A new space takes the freed /24; "b" keeps its own.
        _ = try engine(host).apply([space("c")])
        let b = try RecordCodec.decodeSpace(host.state.withLock { $0.files["/run/main/b/space.yaml"] }!, file: "x")
        let c = try RecordCodec.decodeSpace(host.state.withLock { $0.files["/run/main/c/space.yaml"] }!, file: "x")
        #expect(b.status.network?.subnet == IPv4Subnet("10.88.1.0/24"))
        #expect(c.status.network?.subnet == IPv4Subnet("10.88.0.0/24"))
    }

    @Test("a spec change bumps the generation; a label change rewrites space.yaml only")
    func generations() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("blog")])
        let labelled = try engine(host).apply([space("blog", labels: ["team": "web"])])
        #expect(labelled[0].outcome == .updated)
        #expect(labelled[0].changes.map(\.part) == [.metadata])
        var record = try RecordCodec.decodeSpace(host.state.withLock { $0.files["/run/main/blog/space.yaml"] }!, file: "x")
        #expect(record.metadata.generation == 1)
        let egress = ManifestValue.map([.init("egress", .map([.init("default", .string("deny"))]))])
        _ = try engine(host).apply([space("blog", labels: ["team": "web"], network: egress)])
        record = try RecordCodec.decodeSpace(host.state.withLock { $0.files["/run/main/blog/space.yaml"] }!, file: "x")
        #expect(record.metadata.generation == 2 && record.status.observedGeneration == 2)
        #expect(record.spec.network == egress)
    }

    @Test("a changed cniConfigPath writes the new conflist, then removes the old one")
    func movedConflist() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("blog")])
        let moved = try engine(host).apply([space("blog", cni: "/etc/cni/other")])
        #expect(moved[0].outcome == .updated)
        let files = host.state.withLock { $0.files }
        #expect(files["/etc/cni/other/main-blog.conflist"] != nil)
        #expect(files["/cni/main-blog.conflist"] == nil)
        let log = host.log
        #expect(log.firstIndex(of: "write /etc/cni/other/main-blog.conflist")! < log.firstIndex(of: "remove /cni/main-blog.conflist")!)
    }

    @Test("spaces of a batch go through their phases together; one whose conflist cannot be written fails alone, the others become Ready")
    func phases() throws {
        let host = FakeHost()
        host.state.withLock {
            $0.failures["write /cni/main-b.conflist"] = HostError("/cni/main-b.conflist: write failed: No space left on device (ENOSPC)")
        }
        let outcomes = try engine(host).apply([realm("main"), space("a"), space("b"), space("c")])
        #expect(outcomes.map(\.outcome) == [.created, .created, .failed, .created])
        #expect(outcomes[2].failure?.reason == .conflistWriteFailed)
        let log = host.log
        func first(_ entry: String) -> Int { log.firstIndex(of: entry) ?? -1 }
        func last(_ entry: String) -> Int { log.lastIndex(of: entry) ?? -1 }
        // Every Pending record before any space's cgroup, every cgroup before any conflist, every conflist before any bridge.
        #expect(first("write /run/main/c/space.yaml") < first("mkdir /cg/kukeon/main/a"), "\(log)")
        #expect(first("mkdir /cg/kukeon/main/c") < first("write /cni/main-a.conflist"), "\(log)")
        #expect(first("write /cni/main-c.conflist") < first("createBridge kuke-main-a"), "\(log)")
        #expect(first("createBridge kuke-main-c") < last("write /run/main/a/space.yaml"), "\(log)")
        #expect(first("createBridge kuke-main-b") == -1, "b stopped at its conflist")
        let records = host.state.withLock { $0.files }
        #expect(try RecordCodec.decodeSpace(records["/run/main/a/space.yaml"]!, file: "x").status.state == .ready)
        #expect(try RecordCodec.decodeSpace(records["/run/main/c/space.yaml"]!, file: "x").status.state == .ready)
        let failed = try RecordCodec.decodeSpace(records["/run/main/b/space.yaml"]!, file: "x")
        #expect(failed.status.state == .failed && failed.status.reason == .conflistWriteFailed)
        // Ranges were handed out in batch order, b's kept for it.
        let subnets = try ["a", "b", "c"].map {
            try RecordCodec.decodeSpace(records["/run/main/\($0)/space.yaml"]!, file: "x").status.network?.subnet.description
        }
        #expect(subnets == ["10.88.0.0/24", "10.88.1.0/24", "10.88.2.0/24"])
        host.state.withLock { $0.failures = [:] }
        #expect(
            try engine(host).apply([realm("main"), space("a"), space("b"), space("c")]).map(\.outcome) == [
                .unchanged, .unchanged, .updated, .unchanged,
            ])
    }

    @Test("a failing driver marks the space Failed with reason and message")
    func failureRecorded() throws {
        let host = FakeHost()
        host.state.withLock {
            $0.failures["createBridge"] = HostError("bridge \"kuke-main-blog\": create failed: Operation not permitted (EPERM)", errno: .notPermitted)
        }
        let outcomes = try engine(host).apply([realm("main"), space("blog")])
        #expect(outcomes[1].outcome == .failed)
        #expect(outcomes[1].failure?.reason == .bridgeFailed)
        let record = try RecordCodec.decodeSpace(host.state.withLock { $0.files["/run/main/blog/space.yaml"] }!, file: "x")
        #expect(record.status.state == .failed)
        #expect(record.status.reason == .bridgeFailed)
        #expect(record.status.message?.contains("EPERM") == true)
        #expect(record.status.observedGeneration == nil)  // nothing converged yet
        // The next pass, with the fault gone, converges it.
        host.state.withLock { $0.failures = [:] }
        let retry = try engine(host).apply([space("blog")])
        #expect(retry[0].outcome == .updated)
        #expect(try RecordCodec.decodeSpace(host.state.withLock { $0.files["/run/main/blog/space.yaml"] }!, file: "x").status.state == .ready)
    }

    @Test("a realm that fails in the batch does not let its spaces go ahead")
    func failedRealmBlocksSpaces() throws {
        let host = FakeHost()
        host.state.withLock {
            $0.failures["mkdir /cg/kukeon/main"] = HostError(
                "cgroup /cg/kukeon/main: mkdir failed: No space left on device (ENOSPC)", errno: .noSpace)
        }
        let outcomes = try engine(host).apply([realm("main"), space("blog")])
        #expect(outcomes[0].failure?.reason == .cgroupFailed)
        #expect(outcomes[1].failure?.reason == .realmNotFound)
        #expect(!host.log.contains { $0.contains("blog") })
    }

    @Test("a realm holding a record kuke cannot read is not deleted")
    func unreadableBlocksRealmDelete() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("blog")])
        host.state.withLock { $0.files["/run/main/blog/space.yaml"] = "status: [" }
        let outcomes = try engine(host).delete([.realm("main")], cascade: true)
        #expect(outcomes.last?.failure?.reason == .recordUnreadable)
        #expect(host.state.withLock { $0.files["/cni/main-blog.conflist"] } != nil)
    }

    @Test("a cgroup root that is not cgroup2 fails each resource with the reason")
    func badCgroupRoot() throws {
        let host = FakeHost()
        host.state.withLock { $0.rootProblem = "cgroup root /cg is not a cgroup2 filesystem (found tmpfs)" }
        let outcomes = try engine(host).apply([realm("main"), space("blog")])
        #expect(outcomes.allSatisfy { $0.failure?.reason == .cgroupRootInvalid })
        #expect(host.log.isEmpty)
    }

    @Test("delete removes bridge, conflist, cgroup, then metadata; children need --cascade")
    func delete() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("blog")])
        host.state.withLock {
            $0.cgroups["/cg/kukeon/main/blog/stack-a"] = []
            $0.cgroups["/cg/kukeon/main/blog/stack-a/cell-1"] = []
        }
        let id = SpaceID(realm: "main", name: "blog")
        let refused = try engine(host).delete([.space(id)], cascade: false)
        #expect(refused[0].failure?.reason == .hasChildren)
        #expect(host.state.withLock { $0.links["kuke-main-blog"] } != nil)

        let start = host.log.count
        let deleted = try engine(host).delete([.space(id)], cascade: true)
        #expect(deleted[0].outcome == .deleted)
        let log = Array(host.log.dropFirst(start))
        #expect(
            log == [
                "write /run/main/blog/space.yaml",  // Deleting
                "deleteLink kuke-main-blog", "remove /cni/main-blog.conflist",
                "rmdir /cg/kukeon/main/blog/stack-a/cell-1", "rmdir /cg/kukeon/main/blog/stack-a", "rmdir /cg/kukeon/main/blog",
                "remove /run/main/blog/network.conflist", "remove /run/main/blog/space.yaml", "rmdir-file /run/main/blog",
            ])
        let state = host.state.withLock { $0 }
        #expect(state.files.keys.filter { $0.contains("blog") }.isEmpty)
        #expect(state.links.isEmpty)
        let missing = try engine(host).delete([.space(id)], cascade: false)
        #expect(missing[0].failure?.reason == .notFound)
    }

    @Test("delete refuses, changing nothing, while processes run in the space or foreign files sit in its directory")
    func deleteRefusals() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("blog")])
        let id = SpaceID(realm: "main", name: "blog")
        host.state.withLock { _ = $0.populated.insert("/cg/kukeon/main/blog") }
        let start = host.log.count
        let busy = try engine(host).delete([.space(id)], cascade: true)
        #expect(busy[0].failure?.reason == .cgroupBusy)
        host.state.withLock {
            $0.populated = []
            $0.files["/run/main/blog/.notes"] = "mine"
        }
        let foreign = try engine(host).delete([.space(id)], cascade: true)
        #expect(foreign[0].failure?.reason == .foreignFiles)
        #expect(foreign[0].failure?.message.contains(".notes") == true)
        #expect(host.log.count == start, "\(host.log.dropFirst(start))")
        // A temp file from an interrupted write is kuke's own and goes with the space.
        host.state.withLock {
            $0.files["/run/main/blog/.notes"] = nil
            $0.files["/run/main/blog/.space.yaml.12.34.tmp"] = ""
        }
        #expect(try engine(host).delete([.space(id)], cascade: false)[0].outcome == .deleted)
    }

    @Test("a realm directory holding data kuke did not write is not removed")
    func realmForeignData() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main")])
        host.state.withLock { $0.files["/run/main/legacy/stack1/stack.yaml"] = "x" }
        let outcomes = try engine(host).delete([.realm("main")], cascade: false)
        #expect(outcomes.last?.failure?.reason == .foreignFiles)
        // With --cascade too, the check comes before any space is deleted.
        _ = try engine(host).apply([space("blog")])
        let cascaded = try engine(host).delete([.realm("main")], cascade: true)
        #expect(cascaded.map(\.outcome) == [.failed])
        #expect(host.state.withLock { $0.files["/run/main/blog/space.yaml"] } != nil)
        #expect(host.state.withLock { $0.files["/run/main/legacy/stack1/stack.yaml"] } == "x")
        #expect(host.state.withLock { $0.files["/run/main/realm.yaml"] } != nil)
    }

    @Test("a cniConfigPath change that fails keeps the old conflist owned, so reverting works")
    func failedMove() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("blog")])
        host.state.withLock {
            $0.failures["write /readonly/"] = HostError(
                "/readonly/main-blog.conflist: creating temporary file failed: Read-only file system (EROFS)", errno: .readOnlyFileSystem)
        }
        let moved = try engine(host).apply([space("blog", cni: "/readonly")])
        #expect(moved[0].failure?.reason == .conflistWriteFailed)
        let record = try RecordCodec.decodeSpace(host.state.withLock { $0.files["/run/main/blog/space.yaml"] }!, file: "x")
        #expect(record.status.network?.conflistPath == "/cni/main-blog.conflist")
        let back = try engine(host).apply([space("blog")])
        #expect(back[0].failure == nil, "\(back)")
    }

    @Test("no subnet is chosen while a space record is unreadable (its subnet is unknown)")
    func unreadableBlocksAllocation() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("a")])
        host.state.withLock { $0.files["/run/main/a/space.yaml"] = "{" }
        let outcomes = try engine(host).apply([space("b")])
        #expect(outcomes[0].failure?.reason == .recordUnreadable)
    }

    @Test("a host-wide problem fails resources without marking their records Failed")
    func hostProblemLeavesRecords() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("blog")])
        host.state.withLock { $0.rootProblem = "cgroup root /cg is not a cgroup2 filesystem (found tmpfs)" }
        let before = host.log.count
        #expect(try engine(host).apply([space("blog")])[0].failure?.reason == .cgroupRootInvalid)
        #expect(host.log.count == before)
    }

    @Test("the generation saturates instead of overflowing")
    func generationSaturates() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("blog")])
        host.state.withLock { state in
            state.files["/run/main/blog/space.yaml"] = state.files["/run/main/blog/space.yaml"]!.replacingOccurrences(
                of: "generation: 1\n", with: "generation: 9223372036854775807\n")
        }
        let outcomes = try engine(host).apply([space("blog", network: .map([.init("egress", .map([.init("default", .string("deny"))]))]))])
        #expect(outcomes[0].outcome == .updated)
    }

    @Test("the cgroup root is never written; what it delegates is passed down")
    func rootUntouched() throws {
        let host = FakeHost(offered: ["memory"])
        _ = try engine(host).apply([realm("main"), space("blog")])
        #expect(!host.log.contains { $0.hasSuffix(" in /cg") })
        #expect(host.log.contains("enable memory in /cg/kukeon/main/blog"))
    }

    @Test("create-only fails with AlreadyExists under the lock and leaves the existing record as it is")
    func createOnly() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("blog", labels: ["a": "1"])])
        let before = host.log.count
        var options = ApplyOptions()
        options.createOnly = true
        let outcomes = try engine(host).apply([space("blog", labels: ["b": "2"])], options: options)
        #expect(outcomes[0].failure?.reason == .alreadyExists)
        #expect(outcomes[0].displayName == "main/blog")
        #expect(host.log.count == before)
    }

    @Test("the record cache reuses unchanged records and sees edited ones")
    func recordCache() throws {
        let host = FakeHost()
        var cached = engine(host)
        cached.recordCache = RecordCache()
        _ = try cached.apply([realm("main"), space("blog")])
        let first = try cached.inventory()
        #expect(first.spaces[SpaceID(realm: "main", name: "blog")]?.metadata.labels == [:])
        host.state.withLock { state in
            state.files["/run/main/blog/space.yaml"] = state.files["/run/main/blog/space.yaml"]!.replacingOccurrences(
                of: "  name: blog\n", with: "  name: blog\n  labels:\n    edited: by-hand\n")
        }
        let second = try cached.inventory()
        #expect(second.spaces[SpaceID(realm: "main", name: "blog")]?.metadata.labels == ["edited": "by-hand"])
        let (outcomes, inventory) = try cached.applyObserving([space("blog")], options: ApplyOptions())
        #expect(outcomes[0].outcome == .updated)
        #expect(inventory.spaces[SpaceID(realm: "main", name: "blog")]?.metadata.labels == [:])
    }

    @Test(
        "the isolation table follows the spaces: created, left alone when converged, repaired when flushed; with the last space gone it keeps the kuke-* rules"
    )
    func firewall() throws {
        let host = FakeHost(firewall: true)
        let created = try engine(host).apply([realm("main"), space("blog"), space("shop")])
        #expect(created.last?.kind == .firewall && created.last?.outcome == .created)
        let script = try #require(host.state.withLock { $0.firewallScript })
        #expect(script.contains("iifname \"kuke-main-blog\" oifname \"kuke-*\" counter drop comment \"isolate\""))
        #expect(script.contains("ct state established,related accept"))
        #expect(try engine(host).apply([realm("main"), space("blog"), space("shop")]).allSatisfy { $0.outcome == .unchanged })
        // Someone flushes the chain: the rule count no longer matches, so a dry run shows it and apply repairs it.
        host.state.withLock { state in
            state.firewallScript = state.firewallScript!.split(separator: "\n").filter { !$0.contains(" drop ") }.joined(separator: "\n")
        }
        let drift = try engine(host).apply([space("blog")], options: ApplyOptions(dryRun: true))
        #expect(drift.last?.kind == .firewall && drift.last?.outcome == .updated)
        #expect(try engine(host).apply([space("blog")]).last?.outcome == .updated)
        #expect(host.state.withLock { $0.firewallScript } == script)
        _ = try engine(host).delete([.space(SpaceID(realm: "main", name: "blog"))], cascade: false)
        #expect(host.state.withLock { $0.firewallScript }?.contains("kuke-main-blog") == false)
        let last = try engine(host).delete([.space(SpaceID(realm: "main", name: "shop"))], cascade: false)
        #expect(last.last?.outcome == .updated && last.last?.kind == .firewall)
        let empty = try #require(host.state.withLock { $0.firewallScript })
        #expect(!empty.contains("kuke-main-shop") && empty.contains("iifname \"kuke-*\" oifname \"kuke-*\" counter drop"), "\(empty)")
    }

    @Test("a realm with spaces is deleted only with --cascade")
    func deleteRealm() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("blog")])
        #expect(try engine(host).delete([.realm("main")], cascade: false).last?.failure?.reason == .hasChildren)
        let outcomes = try engine(host).delete([.realm("main")], cascade: true)
        #expect(outcomes.map(\.outcome) == [.deleted, .deleted])
        #expect(host.state.withLock { $0.files.isEmpty })
    }

    @Test("init creates the default realm and space once, and keeps existing records")
    func initialize() throws {
        let host = FakeHost()
        #expect(try engine(host).initialize(regenerate: false).map(\.outcome) == [.created, .created])
        _ = try engine(host).apply([space("default", realm: "default", labels: ["keep": "me"])])
        #expect(try engine(host).initialize(regenerate: false).map(\.outcome) == [.unchanged, .unchanged])
        let record = try RecordCodec.decodeSpace(host.state.withLock { $0.files["/run/default/default/space.yaml"] }!, file: "x")
        #expect(record.metadata.labels == ["keep": "me"])
    }

    @Test("init --force-regenerate-cni repairs a stale, too-long recorded bridge name")
    func regenerate() throws {
        let host = FakeHost()
        _ = try engine(host).apply([realm("main"), space("analytics")])
        // Simulate an old record and conflist with an unusable name.
        let path = "/run/main/analytics/space.yaml"
        host.state.withLock { state in
            state.files[path] = state.files[path]!.replacingOccurrences(of: "kuke-mai-", with: "kuke-main-analytics-old-")
            state.files["/cni/main-analytics.conflist"] = "{}"
        }
        let stale = try engine(host).apply([space("analytics")])
        #expect(stale[0].failure?.reason == .bridgeNameInvalid)
        #expect(stale[0].failure?.hint == .regenerateNetwork(.validName(who: "the space")))
        let fixed = try engine(host).initialize(regenerate: true)
        #expect(fixed.last?.outcome == .updated)
        let record = try RecordCodec.decodeSpace(host.state.withLock { $0.files[path] }!, file: "x")
        #expect(record.status.network?.bridge.utf8.count ?? 99 <= 15)
        #expect(host.state.withLock { $0.files["/cni/main-analytics.conflist"] }?.contains(record.status.network!.bridge) == true)
    }

    @Test("after a reboot (a new boot ID), Ready records are Stale until a pass has made the parts again and rewritten them, last")
    func reboot() throws {
        let host = FakeHost()
        host.state.withLock { $0.files[layout.bootIDPath] = "boot-1\n" }
        _ = try engine(host).apply([realm("main"), space("blog")])
        let path = "/run/main/blog/space.yaml"
        func record() throws -> SpaceRecord { try RecordCodec.decodeSpace(try #require(host.state.withLock { $0.files[path] }), file: path) }
        #expect(try record().status.bootId == "boot-1")
        #expect(try engine(host).inventory().realms["main"]?.status.bootId == "boot-1")
        #expect(try !BootFreshness.isStale(.ready, recordBoot: record().status.bootId, currentBoot: engine(host).inventory().bootID))

        // The reboot: a new boot ID, and the kernel holds no bridge and no cgroup; the records stay.
        host.state.withLock { state in
            state.files[layout.bootIDPath] = "boot-2\n"
            state.links = [:]
            state.cgroups = state.cgroups.filter { !$0.key.hasPrefix("/cg/kukeon") }
        }
        let inventory = try engine(host).inventory()
        #expect(inventory.bootID == "boot-2")
        #expect(try BootFreshness.shownState(.ready, recordBoot: record().status.bootId, currentBoot: inventory.bootID) == "Stale")

        let before = host.log.count
        let outcomes = try engine(host, at: 1_800_000_100).apply([realm("main"), space("blog")])
        #expect(outcomes.map(\.outcome) == [.updated, .updated])
        let log = Array(host.log.dropFirst(before))
        let bridge = log.firstIndex(of: "createBridge kuke-main-blog") ?? .max
        let write = log.lastIndex(of: "write \(path)") ?? -1
        #expect(bridge < write, "the record is written after the bridge: \(log)")
        #expect(try record().status.bootId == "boot-2" && record().status.state == .ready)
        #expect(try BootFreshness.shownState(.ready, recordBoot: record().status.bootId, currentBoot: engine(host).inventory().bootID) == "Ready")

        // Without a readable boot ID (an old record, or no /proc), Ready is taken at its word.
        #expect(BootFreshness.shownState(.ready, recordBoot: nil, currentBoot: "boot-2") == "Ready")
        #expect(BootFreshness.shownState(.ready, recordBoot: "boot-1", currentBoot: nil) == "Ready")
        #expect(BootFreshness.shownState(.failed, recordBoot: "boot-1", currentBoot: "boot-2") == "Failed")
    }
}
