import Foundation
import KukeModel
import KukeTestSupport
import Testing

@testable import KukeEngine

/// Issue "fail closed": a space the kernel does not isolate is never `Ready`, a range another
/// network claims is never handed out, and two records never share a subnet or a bridge.
@Suite("Fail closed")
struct FailClosedTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    func engine(_ host: FakeHost, at time: TimeInterval = 1_800_000_000, pool: String = "10.88.0.0/16") -> Engine {
        var layout = layout
        layout.subnetPool = IPv4Subnet(pool)!
        return Engine(layout: layout, drivers: host.drivers, clock: { Date(timeIntervalSince1970: time) }, hints: DataHints())
    }

    func batch(_ names: [String]) -> [Resource] {
        [.realm(RealmManifest(metadata: ObjectMeta(name: "main"), origin: .command("test")))]
            + names.map { .space(SpaceManifest(metadata: ObjectMeta(name: $0), spec: SpaceSpec(realmId: "main"), origin: .command("test"))) }
    }

    func record(_ host: FakeHost, _ name: String) throws -> SpaceRecord {
        try RecordCodec.decodeSpace(try #require(host.state.withLock { $0.files["/run/main/\(name)/space.yaml"] }), file: name)
    }

    /// Replaces text in a record, as a hand edit or a restored backup would.
    func edit(_ host: FakeHost, _ name: String, _ old: String, _ new: String) {
        host.state.withLock { state in
            let path = "/run/main/\(name)/space.yaml"
            state.files[path] = state.files[path]!.replacingOccurrences(of: old, with: new)
        }
    }

    func script(_ host: FakeHost) -> String { host.state.withLock { $0.firewallScript } ?? "" }

    @Test("a recorded bridge name nftables cannot hold fails its space alone; the table keeps every other space, the new one included")
    func inexpressibleBridgeFailsAlone() throws {
        let host = FakeHost(firewall: true)
        _ = try engine(host).apply(batch(["old"]))
        edit(host, "old", "kuke-main-old", "kuke-main-old-from-before")
        let outcomes = try engine(host, at: 1_800_000_100).apply(batch(["new"]))
        let new = try #require(outcomes.first { $0.name == "new" })
        #expect(new.failure == nil && new.outcome == .created, "\(new)")
        #expect(try record(host, "new").status.state == .ready)
        #expect(script(host).contains("iifname \"kuke-main-new\""), "the new space is isolated")
        #expect(!script(host).contains("kuke-main-old-from-before"))
        let old = try record(host, "old")
        #expect(old.status.state == .failed && old.status.reason == .bridgeNameInvalid, "\(old.status)")
        #expect(
            old.status.message?.contains("; hint: regenerateNetwork(") == true && old.status.message?.contains("validName(who: \"it\")") == true,
            "\(old.status)")
        // Applying the old space itself reports the same reason; the repair gives it its rules back.
        #expect(try engine(host).apply(batch(["old"])).first { $0.name == "old" }?.failure?.reason == .bridgeNameInvalid)
        _ = try engine(host).initialize(regenerate: true)
        #expect(try record(host, "old").status.state == .ready)
        #expect(script(host).contains("iifname \"kuke-main-old\""))
    }

    @Test("when the table cannot be written, a space whose rules are not in it is failed, never Ready; the dry run says so too")
    func tableNotWritten() throws {
        let host = FakeHost(firewall: true)
        _ = try engine(host).apply(batch(["a"]))
        host.state.withLock { $0.failures["replaceFirewall"] = HostError("nftables: replacing table inet kukeon failed: Operation not permitted") }
        let outcomes = try engine(host).apply(batch(["a", "b"]))
        let b = try #require(outcomes.first { $0.name == "b" })
        #expect(b.outcome == .failed && b.failure?.reason == .firewallFailed, "\(b)")
        #expect(b.failure?.message.contains("Operation not permitted") == true)
        #expect(try record(host, "b").status.state == .failed)
        // a's rules are still in the table the kernel holds: it stays Ready.
        #expect(outcomes.first { $0.name == "a" }?.failure == nil)
        #expect(try record(host, "a").status.state == .ready)
        #expect(outcomes.last?.kind == .firewall && outcomes.last?.failure?.reason == .firewallFailed)
        // Once the table can be written, the next pass makes b Ready.
        host.state.withLock { $0.failures = [:] }
        #expect(try engine(host).apply(batch(["a", "b"])).allSatisfy { $0.failure == nil })
        #expect(try record(host, "b").status.state == .ready)
    }

    @Test("a range claimed by another runtime's conflist is never allocated; an exhausted pool names who holds it")
    func foreignConflists() throws {
        let host = FakeHost()
        let podman = """
            {"cniVersion": "0.4.0", "name": "podman", "plugins": [{"type": "bridge", "bridge": "cni-podman0", "ipam": {"type": "host-local",
             "routes": [{"dst": "0.0.0.0/0"}], "ranges": [[{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]]}}]}
            """
        host.state.withLock { state in
            state.files["/cni/87-podman-bridge.conflist"] = podman
            state.files["/cni/90-other.conf"] =
                #"{"cniVersion": "0.3.1", "name": "other", "type": "bridge", "ipam": {"type": "host-local", "subnet": "10.89.0.0/24"}}"#
        }
        let exhausted = try engine(host).apply(batch(["a"])).last
        #expect(exhausted?.failure?.reason == .subnetPoolExhausted)
        #expect(exhausted?.failure?.message.contains("/cni/87-podman-bridge.conflist (10.88.0.0/16)") == true, "\(String(describing: exhausted))")
        #expect(host.state.withLock { $0.links.isEmpty })
        _ = try engine(host, pool: "10.89.0.0/16").apply(batch(["a"]))
        #expect(try record(host, "a").status.network?.subnet.description == "10.89.1.0/24", ".0 is claimed by 90-other.conf")
    }

    @Test("a foreign conflist that is not JSON: the space that allocates is warned, naming it, once per pass; a dry run too")
    func unreadableForeignConflist() throws {
        let host = FakeHost()
        host.state.withLock { $0.files["/cni/88-broken.conflist"] = "{\"cniVersion\": \"0.4.0\", \"name\": " }
        for dryRun in [true, false] {
            let outcomes = try engine(host).apply(batch(["a", "b"]), options: ApplyOptions(dryRun: dryRun))
            let warned = outcomes.filter { !$0.warnings.isEmpty }
            #expect(warned.map(\.name) == ["a"], "\(outcomes)")
            #expect(warned.first?.warnings.first?.hasPrefix("network configuration /cni/88-broken.conflist cannot be read (") == true)
            #expect(outcomes.allSatisfy { $0.failure == nil })
        }
        #expect(try engine(host).apply(batch(["a", "b"])).allSatisfy { $0.warnings.isEmpty }, "no allocation, nothing read")
    }

    @Test("a static IPAM address in another runtime's conflist claims its network: the allocator skips that /24")
    func foreignStaticAddresses() throws {
        let host = FakeHost()
        host.state.withLock { state in
            state.files["/cni/50-static.conflist"] = """
                {"cniVersion": "1.0.0", "name": "pinned", "plugins": [{"type": "bridge", "bridge": "br-pinned",
                 "ipam": {"type": "static", "addresses": [{"address": "10.88.0.7/24", "gateway": "10.88.0.1"}, {"address": "10.88.1.9/23"}]}}]}
                """
        }
        _ = try engine(host).apply(batch(["a"]))
        #expect(try record(host, "a").status.network?.subnet.description == "10.88.2.0/24", "10.88.0.0/23 is pinned by 50-static.conflist")
    }

    @Test("two records with one subnet: the later one fails with SubnetConflict; init --force-regenerate-cni gives it a fresh subnet")
    func duplicateSubnet() throws {
        let host = FakeHost(firewall: true)
        _ = try engine(host, at: 1_800_000_000).apply(batch(["a"]))
        _ = try engine(host, at: 1_800_000_100).apply(batch(["b"]))
        edit(host, "b", "10.88.1.0/24", "10.88.0.0/24")
        let outcomes = try engine(host).apply(batch(["a", "b"]))
        #expect(outcomes.first { $0.name == "a" }?.failure == nil)
        let b = try #require(outcomes.first { $0.name == "b" })
        #expect(b.failure?.reason == .subnetConflict && b.failure?.message.contains("main/a") == true, "\(b)")
        #expect(try record(host, "b").status.state == .failed)
        let repaired = try engine(host).initialize(regenerate: true)
        let repair = try #require(repaired.first { $0.name == "b" })
        #expect(repair.failure == nil, "\(repair)")
        #expect(try record(host, "a").status.network?.subnet.description == "10.88.0.0/24")
        // init made default/default first (10.88.1.0/24), so b moves to the next free /24.
        let moved = try record(host, "b")
        #expect(moved.status.network?.subnet.description == "10.88.2.0/24" && moved.status.state == .ready)
        #expect(repair.changes.contains { $0.summary.contains("subnet 10.88.0.0/24 -> 10.88.2.0/24") }, "\(repair.changes.map(\.summary))")
    }

    @Test("two records with one bridge: the later one fails with BridgeConflict and is left out of the table; the repair gives it its own")
    func duplicateBridge() throws {
        let host = FakeHost(firewall: true)
        _ = try engine(host, at: 1_800_000_000).apply(batch(["a"]))
        _ = try engine(host, at: 1_800_000_100).apply(batch(["b"]))
        edit(host, "b", "kuke-main-b", "kuke-main-a")
        let outcomes = try engine(host).apply(batch(["a", "b"]))
        #expect(outcomes.first { $0.name == "b" }?.failure?.reason == .bridgeConflict)
        #expect(outcomes.first { $0.name == "a" }?.failure == nil)
        #expect(script(host).components(separatedBy: "iifname \"kuke-main-a\"").count == 4, "a's three rules, none for b")
        let logged = host.log.count
        let repaired = try engine(host).initialize(regenerate: true)
        #expect(repaired.allSatisfy { $0.failure == nil }, "\(repaired)")
        #expect(!host.log[logged...].contains("deleteLink kuke-main-a"), "a's bridge stays with a")
        #expect(try record(host, "b").status.network?.bridge == "kuke-main-b")
        #expect(try record(host, "a").status.network?.bridge == "kuke-main-a")
        #expect(host.state.withLock { $0.links["kuke-main-b"] } != nil)
    }
}

/// Deleting a space that containers are attached to: refused without `--cascade`; with it, each
/// cached attachment goes through CNI DEL, leftover ports are removed, then the leases.
@Suite("Delete with attachments")
struct DeleteAttachmentTests {
    let layout = HostLayout(
        runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!, cniStateDirectory: "/state")

    func engine(_ host: FakeHost) -> Engine { Engine(layout: layout, drivers: host.drivers) }

    func batch() -> [Resource] {
        [
            .realm(RealmManifest(metadata: ObjectMeta(name: "main"), origin: .command("test"))),
            .space(SpaceManifest(metadata: ObjectMeta(name: "blog"), spec: SpaceSpec(realmId: "main"), origin: .command("test"))),
        ]
    }

    /// A container attached as the bridge plugin and libcni would leave it: a veth port on the
    /// bridge, a lease, and the cache entry (libcni's `cniCacheV1` format).
    func attach(_ host: FakeHost, container: String) {
        host.state.withLock { state in
            let bridge = state.links["kuke-main-blog"]!
            state.links["veth-\(container)"] = ObservedLink(index: 50, name: "veth-\(container)", kind: "veth", isUp: true, master: bridge.index)
            state.files["/state/networks/main-blog/10.88.0.2"] = container
            state.files["/state/results/main-blog-\(container)-eth0"] =
                #"{"kind":"cniCacheV1","containerId":"\#(container)","ifName":"eth0","networkName":"main-blog","netns":"/run/netns/\#(container)","cniArgs":[["IgnoreUnknown","1"]],"result":{"cniVersion":"1.0.0"}}"#
        }
    }

    @Test("without --cascade: SpaceInUse names the ports and containers, nothing changes, the dry run says the same")
    func refused() throws {
        let host = FakeHost()
        _ = try engine(host).apply(batch())
        attach(host, container: "c0ffee")
        let logged = host.log.count
        let dry = try engine(host).delete([.space(SpaceID(realm: "main", name: "blog"))], cascade: false, dryRun: true)
        let real = try engine(host).delete([.space(SpaceID(realm: "main", name: "blog"))], cascade: false)
        for outcome in [dry[0], real[0]] {
            #expect(outcome.failure?.reason == .spaceInUse, "\(outcome)")
            #expect(outcome.failure?.message.contains("veth-c0ffee") == true && outcome.failure?.message.contains("c0ffee (eth0)") == true)
        }
        #expect(host.log.count == logged, "nothing changed: \(host.log[logged...])")
    }

    @Test("with --cascade: DEL per cached attachment, then leftover ports, then the bridge, and the leases")
    func cascade() throws {
        let host = FakeHost()
        _ = try engine(host).apply(batch())
        attach(host, container: "c0ffee")
        host.state.withLock { state in  // a port no runtime cached
            state.links["stray0"] = ObservedLink(index: 99, name: "stray0", kind: "veth", isUp: true, master: state.links["kuke-main-blog"]!.index)
        }
        let logged = host.log.count
        let outcomes = try engine(host).delete([.space(SpaceID(realm: "main", name: "blog"))], cascade: true)
        #expect(outcomes[0].outcome == .deleted, "\(outcomes)")
        let log = Array(host.log[logged...])
        let order = ["cniDel c0ffee", "deletePorts kuke-main-blog", "deleteLink kuke-main-blog", "removeTree /state/networks/main-blog"]
        let positions = order.map { log.firstIndex(of: $0) ?? -1 }
        #expect(!positions.contains(-1) && positions == positions.sorted(), "\(log)")
        #expect(host.state.withLock { state in state.files.keys.filter { $0.hasPrefix("/state/") } }.isEmpty)
        #expect(host.state.withLock { $0.links["stray0"] } == nil)
    }

    @Test("a space without attachments still leaves no leases behind")
    func leasesRemoved() throws {
        let host = FakeHost()
        _ = try engine(host).apply(batch())
        host.state.withLock { $0.files["/state/networks/main-blog/last_reserved_ip.0"] = "10.88.0.2" }
        let outcomes = try engine(host).delete([.space(SpaceID(realm: "main", name: "blog"))], cascade: false)
        #expect(outcomes[0].outcome == .deleted)
        #expect(outcomes[0].changes.contains { $0.summary == "remove host-local leases /state/networks/main-blog" })
        #expect(host.state.withLock { $0.files["/state/networks/main-blog/last_reserved_ip.0"] } == nil)
    }

    @Test("libcni's cache entry is read: container, interface, netns, base64 config, args, result")
    func cacheEntry() throws {
        let config = #"{"cniVersion":"1.0.0","name":"main-blog","plugins":[]}"#
        let text = """
            {"kind":"cniCacheV1","containerId":"abcdef0123456789","config":"\(Data(config.utf8).base64EncodedString())","ifName":"eth0",
             "networkName":"main-blog","netns":"/run/netns/x","cniArgs":[["K8S_POD_NAME","web"]],"capabilityArgs":{"portMappings":[]},
             "result":{"cniVersion":"1.0.0","ips":[{"address":"10.88.0.2/24"}]}}
            """
        let attachment = try #require(CNIAttachment.parse(text, path: "/state/results/main-blog-abcdef0123456789-eth0"))
        #expect(attachment.containerID == "abcdef0123456789" && attachment.ifName == "eth0" && attachment.netns == "/run/netns/x")
        #expect(attachment.config == config)
        #expect(attachment.arguments == ["K8S_POD_NAME=web"])
        #expect(CNIAttachment.labels([attachment]) == ["abcdef012345 (eth0)"])
        #expect(attachment.netnsSource == .netns)
        #expect(attachment.result?.contains("10.88.0.2/24") == true)
        #expect(CNIAttachment.parse(#"{"kind":"other"}"#, path: "x") == nil)
    }

    /// Podman 4.3's entry (as it wrote one here): no `netns`, the path only as the sandbox of the
    /// container's interface; `ctr run --cni` (containerd 1.6) the same, with `/proc/<pid>/ns/net`.
    @Test(
        "Podman 4.3's and containerd 1.6's entries: the namespace is read from result.interfaces[].sandbox",
        arguments: [
            ("0f8b52312f5690f2cac8860284c67f1494b30f39afaf15c43784eeba564385a9", "/run/netns/netns-ae113228-c5f9-8b58-2a46-cc39926bb896"),
            ("default-blog1", "/proc/13406/ns/net"),
        ])
    func runtimeCacheEntry(container: String, sandbox: String) throws {
        let text = """
            {"kind":"cniCacheV1","containerId":"\(container)","ifName":"eth0","networkName":"main-blog","cniArgs":[["IgnoreUnknown","1"]],
             "result":{"cniVersion":"1.0.0","dns":{},"interfaces":[{"mac":"e6:e3:e8:9a:38:1d","name":"kuke-main-blog"},
             {"mac":"7a:52:f7:aa:2b:0f","name":"veth7d34e51a"},{"mac":"4a:6c:96:b0:d2:50","name":"eth0","sandbox":"\(sandbox)"}],
             "ips":[{"address":"10.88.0.2/24","gateway":"10.88.0.1","interface":2}]}}
            """
        let attachment = try #require(CNIAttachment.parse(text, path: "/state/results/main-blog-\(container)-eth0"))
        #expect(attachment.netns == sandbox && attachment.netnsSource == .sandbox)
        let bare = try #require(CNIAttachment.parse(text.replacingOccurrences(of: ",\"sandbox\":\"\(sandbox)\"", with: ""), path: "x"))
        #expect(bare.netns == "" && bare.netnsSource == .none)
    }

    @Test("labels name each attachment unambiguously: 12 characters, longer while another ID shares the prefix")
    func labels() {
        let attachment = { (id: String) in
            CNIAttachment(cachePath: "/state/results/\(id)", containerID: id, ifName: "eth0", networkName: "n", netns: "")
        }
        let hex = String(repeating: "a", count: 13)
        let ids = ["default-blog1", "default-blog2", "default-blog", hex + "1" + String(repeating: "0", count: 50), hex + "2", "0123456789abcdef"]
        #expect(
            CNIAttachment.labels(ids.map(attachment)) == [
                "default-blog1 (eth0)", "default-blog2 (eth0)", "default-blog (eth0)", hex + "1 (eth0)", hex + "2 (eth0)", "0123456789ab (eth0)",
            ])
    }

    @Test("a namespace that is gone, or no longer the container's: DEL runs without it; the latter is a warning")
    func namespaceChecked() throws {
        let host = FakeHost()
        _ = try engine(host).apply(batch())
        attach(host, container: "c0ffee")
        attach(host, container: "beef")
        host.state.withLock { state in
            state.namespaces["/run/netns/c0ffee"] = .gone
            state.namespaces["/run/netns/beef"] = .foreign("PID 7 was reused")
        }
        let dry = try engine(host).delete([.space(SpaceID(realm: "main", name: "blog"))], cascade: true, dryRun: true)
        let logged = host.log.count
        let outcomes = try engine(host).delete([.space(SpaceID(realm: "main", name: "blog"))], cascade: true)
        #expect(outcomes[0].outcome == .deleted, "\(outcomes)")
        #expect(host.log[logged...].contains("cniDel c0ffee without netns") && host.log[logged...].contains("cniDel beef without netns"))
        for outcome in [dry[0], outcomes[0]] {
            #expect(outcome.warnings.count == 1 && outcome.warnings[0].contains("beef (eth0)") && outcome.warnings[0].contains("PID 7 was reused"))
            #expect(outcome.changes.filter { $0.summary.contains("without a network namespace") }.count == 2, "\(outcome.changes)")
        }
    }
}

/// The isolation table is one per network namespace: it records whose run path wrote it, and a
/// kuke with another run path, or one that cannot list its records, never rewrites or deletes it.
@Suite("Isolation table ownership")
struct TableOwnershipTests {
    func layout(_ runPath: String) -> HostLayout {
        HostLayout(runPath: runPath, cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
    }

    func engine(_ host: FakeHost, runPath: String = "/run") -> Engine { Engine(layout: layout(runPath), drivers: host.drivers) }

    func batch(_ names: [String], realm: String = "main") -> [Resource] {
        [.realm(RealmManifest(metadata: ObjectMeta(name: realm), origin: .command("test")))]
            + names.map { .space(SpaceManifest(metadata: ObjectMeta(name: $0), spec: SpaceSpec(realmId: realm), origin: .command("test"))) }
    }

    func script(_ host: FakeHost) -> String { host.state.withLock { $0.firewallScript } ?? "" }

    @Test("a table that holds no space of its run path (the last delete leaves the kuke-* rules) is taken over by another run path")
    func emptyTableTakenOver() throws {
        let host = FakeHost(firewall: true)
        _ = try engine(host).apply(batch(["blog"]))
        _ = try engine(host).delete([.space(SpaceID(realm: "main", name: "blog"))], cascade: false)
        #expect(script(host).contains(" run:/run\""))
        let outcomes = try engine(host, runPath: "/elsewhere").apply(batch(["lab"]))
        #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
        #expect(script(host).contains(" run:/elsewhere\"") && script(host).contains("iifname \"kuke-main-lab\""))
    }

    @Test("the table records its run path; another run path neither deletes nor rewrites it, and its own spaces fail")
    func anotherRunPath() throws {
        let host = FakeHost(firewall: true)
        _ = try engine(host).apply(batch(["blog"]))
        let before = script(host)
        #expect(before.contains("comment \"kuke:") && before.contains(" run:/run\""), "\(before)")
        // A realm alone under another run path: nothing of its own to isolate, the table stays.
        let realmOnly = try engine(host, runPath: "/elsewhere").apply(batch([]))
        #expect(!realmOnly.contains { $0.kind == .firewall }, "\(realmOnly)")
        #expect(script(host) == before)
        // A space there: the table is still not touched, and the space is not Ready without rules.
        let outcomes = try engine(host, runPath: "/elsewhere").apply(batch(["lab"], realm: "test"))
        let table = try #require(outcomes.first { $0.kind == .firewall })
        #expect(table.failure?.reason == .firewallOwnedElsewhere && table.failure?.message.contains("/run") == true, "\(table)")
        #expect(outcomes.first { $0.name == "lab" }?.failure?.reason == .firewallFailed)
        #expect(script(host) == before)
        // Deleting that space leaves the table too.
        _ = try engine(host, runPath: "/elsewhere").delete([.space(SpaceID(realm: "test", name: "lab"))], cascade: false)
        #expect(script(host) == before)
        // The owner still converges it.
        #expect(try engine(host).apply(batch(["blog"])).allSatisfy { $0.failure == nil })
    }

    @Test("a table from before owners were recorded is taken over by the first kuke that runs")
    func legacyTable() throws {
        let host = FakeHost(firewall: true)
        _ = try engine(host).apply(batch(["blog"]))
        host.state.withLock { $0.firewallScript = $0.firewallScript?.replacingOccurrences(of: " run:/run\"", with: "\"") }
        let outcomes = try engine(host).apply(batch(["blog"]))
        #expect(outcomes.last?.kind == .firewall && outcomes.last?.outcome == .updated, "\(outcomes)")
        #expect(script(host).contains(" run:/run\""))
    }

    @Test("a run path that cannot be listed stops the pass before anything changes: never 'no spaces'")
    func unlistableRunPath() throws {
        let host = FakeHost(firewall: true)
        _ = try engine(host).apply(batch(["blog"]))
        let logged = host.log.count
        host.state.withLock { $0.unlistable = ["/run"] }
        #expect(throws: HostError.self) { try engine(host).apply(batch([])) }
        #expect(throws: HostError.self) { try engine(host).inventory() }
        #expect(throws: HostError.self) { try engine(host).delete([.realm("main")], cascade: true, dryRun: true) }
        #expect(host.log.count == logged, "nothing changed")
        do {
            _ = try engine(host).inventory()
        } catch {
            #expect(error.message.contains("the run path cannot be read") && error.message.contains("EACCES"), "\(error)")
        }
    }
}

@Suite("Delete of an unreadable realm record")
struct UnreadableRealmDeleteTests {
    @Test("delete realm of an unreadable realm.yaml is RecordUnreadable, not NotFound, and the file stays")
    func unreadableRealm() throws {
        let host = FakeHost()
        let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
        let engine = Engine(layout: layout, drivers: host.drivers)
        _ = try engine.apply([.realm(RealmManifest(metadata: ObjectMeta(name: "main"), origin: .command("test")))])
        host.state.withLock { $0.files["/run/main/realm.yaml"] = "kind: Realm\nmetadata: [broken\n" }
        let outcome = try engine.delete([.realm("main")], cascade: true)
        #expect(outcome.first?.failure?.reason == .recordUnreadable, "\(outcome)")
        #expect(host.state.withLock { $0.files["/run/main/realm.yaml"] } != nil)
    }
}

/// Names as the seed writes them (`mySpace`), and names that differ only in case.
@Suite("Names that differ only in case")
struct CaseConflictTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    func realm(_ name: String) -> Resource { .realm(RealmManifest(metadata: ObjectMeta(name: name), origin: .command("test"))) }
    func space(_ name: String, realm: String = "main") -> Resource {
        .space(SpaceManifest(metadata: ObjectMeta(name: name), spec: SpaceSpec(realmId: realm), origin: .command("test")))
    }

    @Test("mySpace is created with its case; myspace after it is a NameConflict, in the same batch or later; so is a realm Main beside main")
    func conflicts() throws {
        let host = FakeHost()
        let engine = Engine(layout: layout, drivers: host.drivers)
        let outcomes = try engine.apply([realm("main"), space("mySpace"), space("myspace")])
        #expect(outcomes[1].outcome == .created, "\(outcomes)")
        #expect(outcomes[2].failure?.reason == .nameConflict && outcomes[2].failure?.message.contains("main/mySpace") == true, "\(outcomes)")
        #expect(host.state.withLock { $0.files["/cni/main-mySpace.conflist"] } != nil)
        #expect(host.state.withLock { $0.files["/run/main/myspace/space.yaml"] } == nil)
        #expect(try engine.apply([space("MYSPACE")]).first?.failure?.reason == .nameConflict)
        #expect(try engine.apply([realm("Main")]).first?.failure?.reason == .nameConflict)
        #expect(try engine.apply([realm("main"), space("mySpace")]).allSatisfy { $0.outcome == .unchanged }, "the first keeps converging")
    }
}

/// The seed's troubleshooting step: an old conflist whose bridge name is too long, with no record.
@Suite("Old conflists without a record")
struct OldConflistTests {
    let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)

    func batch(_ name: String) -> [Resource] {
        [
            .realm(RealmManifest(metadata: ObjectMeta(name: "main"), origin: .command("test"))),
            .space(SpaceManifest(metadata: ObjectMeta(name: name), spec: SpaceSpec(realmId: "main"), origin: .command("test"))),
        ]
    }

    func oldConflist(_ network: String, bridge: String, subnet: String) -> String {
        #"{"cniVersion": "0.4.0", "name": "\#(network)", "plugins": [{"type": "bridge", "bridge": "\#(bridge)", "isGateway": true, "ipMasq": true, "ipam": {"type": "host-local", "ranges": [[{"subnet": "\#(subnet)"}]]}}]}"#
    }

    @Test("refused without the flag; --force-regenerate-cni takes it over: short bridge name, the subnet kept when free")
    func salvaged() throws {
        let host = FakeHost()
        let engine = Engine(layout: layout, drivers: host.drivers)
        host.state.withLock { $0.files["/cni/main-old.conflist"] = oldConflist("main-old", bridge: "kuke-main-old-before", subnet: "10.88.5.0/24") }
        #expect(try engine.apply(batch("old")).last?.failure?.reason == .conflistConflict)
        #expect(try engine.unplacedConflists() == [Engine.UnplacedConflist(path: "/cni/main-old.conflist", bridge: "kuke-main-old-before")])
        let outcomes = try engine.apply(batch("old"), options: ApplyOptions(regenerateConflists: true))
        #expect(outcomes.last?.outcome == .created, "\(outcomes)")
        let record = try RecordCodec.decodeSpace(try #require(host.state.withLock { $0.files["/run/main/old/space.yaml"] }), file: "x")
        #expect(record.status.network?.bridge == "kuke-main-old" && record.status.network?.subnet.description == "10.88.5.0/24")
        #expect(host.state.withLock { $0.files["/cni/main-old.conflist"] }?.contains("\"bridge\": \"kuke-main-old\"") == true)
        #expect(try engine.unplacedConflists().isEmpty)
    }

    @Test("a salvaged subnet another space holds is replaced by a free one")
    func subnetHeld() throws {
        let host = FakeHost()
        let engine = Engine(layout: layout, drivers: host.drivers)
        _ = try engine.apply(batch("a"))  // holds 10.88.0.0/24
        host.state.withLock { $0.files["/cni/main-old.conflist"] = oldConflist("main-old", bridge: "kuke-main-old-before", subnet: "10.88.0.0/24") }
        _ = try engine.apply(batch("old"), options: ApplyOptions(regenerateConflists: true))
        let record = try RecordCodec.decodeSpace(try #require(host.state.withLock { $0.files["/run/main/old/space.yaml"] }), file: "x")
        #expect(record.status.network?.subnet.description == "10.88.1.0/24")
    }
}

@Suite("Failure reasons")
struct FailureReasonTests {
    @Test("every failure reason has its row in docs/troubleshooting.md")
    func documented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/troubleshooting.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for reason in FailureReason.allCases {
            #expect(text.contains("| `\(reason.rawValue)` |"), "\(reason.rawValue) has no row in the failure reasons table")
            // The row's last column says how the watcher retries it, as `persistence` decides.
            let row = text.split(separator: "\n").first { $0.hasPrefix("| `\(reason.rawValue)` |") }
            let retried = reason.persistence == .transient ? "| with backoff |" : "| on a change |"
            #expect(row?.hasSuffix(retried) == true, "\(reason.rawValue): \(row ?? "no row") should end \(retried)")
        }
    }
}
