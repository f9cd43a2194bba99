import Foundation
import Glibc
import KukeEngine
import KukeHost
import KukeModel
import KukeTestSupport
import Testing

/// The table as the installed nft lists it against FakeHost's rendering of the same script
/// (`NftablesRendering`, which engine tests without root read), and kuke's reading of it:
/// the comment over nfnetlink, the rules from libnftables' JSON, a missing table from ENOENT.
@Suite("Kernel: nftables listing", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct NftablesKernelTests {
    static let manifest = """
        apiVersion: v1beta1
        kind: Realm
        metadata: {name: main}
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: shop}
        spec:
          realmId: main
          network:
            egress:
              default: deny
              allow:
                - cidr: 10.20.0.0/16
                  ports: [5432, 443, 80]
                - host: outside.kuke.test
                - cidr: 198.51.100.7/32
                  ports: [8080]
                - cidr: 192.0.2.53/32
                  ports: ["53/udp"]
                - cidr: 192.0.2.0/24
                  ports: [443, "53/udp", "8000-8100/udp", "9-10/sctp", icmp]
                - cidr: 198.51.100.0/24
                  ports: [icmp]
                - cidr: fd00:203::/64
                  ports: [443, icmp]
                - cidr: 2001:db8::7/128
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: closed}
        spec:
          realmId: main
          network: {egress: {default: deny, dns: allow}}
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: analytics-pipeline}
        spec: {realmId: main}
        """

    /// nft's JSON without what differs between two writes of one table or two nft versions:
    /// `metainfo`, handles, counter values, and the table object beyond its family and name
    /// (nftables 1.0.8 and later add its comment there).
    func comparable(_ json: String) throws -> [JSONValue] {
        func strip(_ value: JSONValue) -> JSONValue {
            switch value {
            case .object(let members):
                if members["packets"] != nil, members["bytes"] != nil { return .object(["packets": .number(0), "bytes": .number(0)]) }
                return .object(members.filter { $0.key != "handle" }.mapValues(strip))
            case .array(let items): return .array(items.map(strip))
            default: return value
            }
        }
        return (try JSONParser.parse(json)["nftables"]?.arrayValue ?? []).compactMap { object -> JSONValue? in
            if object["metainfo"] != nil { return nil }
            if let table = object["table"] { return .object(["table": .object(["family": table["family"]!, "name": table["name"]!])]) }
            return strip(object)
        }
    }

    @Test("the installed nft lists kuke's table as FakeHost renders it; kuke reads it back as converged; a missing table reads as none")
    func listing() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("spaces.yaml", Self.manifest)
            let hosts = "\(sandbox.directory)/hosts"
            try "127.0.0.1 localhost\n203.0.113.9 outside.kuke.test\n192.0.2.1 outside.kuke.test\n".write(
                toFile: hosts, atomically: false, encoding: .utf8)
            let resolvConf = "\(sandbox.directory)/resolv.conf"
            try "nameserver 192.0.2.250\nnameserver 192.0.2.251\n".write(toFile: resolvConf, atomically: false, encoding: .utf8)
            // The real resolver, with /etc/hosts and /etc/resolv.conf replaced in a mount namespace of kuke's own.
            let kuke = { (arguments: [String]) in
                sandbox.run(
                    [
                        "unshare", "--mount", "sh", "-c",
                        "mount --bind \"$0\" /etc/hosts && mount --bind \"$1\" /etc/resolv.conf && shift && exec \"$@\"",
                        hosts, resolvConf, sandbox.kukeBinary,
                    ] + arguments)
            }
            let applied = kuke(["apply", "-f", path])
            #expect(applied.status == 0, "\(applied)")
            let real = sandbox.run(["nft", "-j", "list", "table", "inet", "kukeon"])
            #expect(real.status == 0, "\(real)")

            let host = FakeHost(firewall: true)
            host.state.withLock {
                $0.names["outside.kuke.test"] = [IPv4Address("203.0.113.9")!, IPv4Address("192.0.2.1")!]
                $0.files["/etc/resolv.conf"] = "nameserver 192.0.2.250\nnameserver 192.0.2.251\n"
            }
            let layout = HostLayout(
                runPath: sandbox.runPath, cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
            let decoded = ManifestDecoder.decode(Self.manifest, file: "spaces.yaml")
            let outcomes = try Engine(layout: layout, drivers: host.drivers).apply(decoded.resources)
            #expect(outcomes.allSatisfy { $0.failure == nil }, "\(outcomes)")
            let rendered = try #require(try host.firewallListing())
            #expect(try comparable(rendered.json) == comparable(real.stdout), "FakeHost: \(rendered.json)\nnft: \(real.stdout)")
            let text = sandbox.run(["nft", "list", "table", "inet", "kukeon"]).stdout
            #expect(text.contains("comment \"\(rendered.comment ?? "none")\""), "the comment FakeHost gives is the kernel's: \(text)")

            // kuke's own reading (nfnetlink for the comment, JSON for the rules): converged, drops known.
            #expect(kuke(["diff", "-f", path]).status == 0)
            let wide = kuke(["get", "spaces", "-o", "wide"])
            #expect(wide.status == 0 && !wide.stderr.contains("dropped packets unknown"), "\(wide)")
            // A table deleted by hand reads as missing (ENOENT), so the diff creates it.
            #expect(sandbox.run(["nft", "delete", "table", "inet", "kukeon"]).status == 0)
            let diff = kuke(["diff", "-f", path])
            #expect(diff.status == 1 && diff.stdout.contains("--- /dev/null") && diff.stdout.contains("+++ nftables/inet kukeon"), "\(diff)")
            let noTable = kuke(["get", "spaces", "-o", "wide"])
            #expect(noTable.status == 0 && !noTable.stderr.contains("dropped packets unknown"), "\(noTable)")
            // Deleting the spaces while the table is missing is not an error either.
            let deleted = kuke(["delete", "realm", "main", "--cascade"])
            #expect(deleted.status == 0, "\(deleted)")
            let left = sandbox.run(["nft", "list", "table", "inet", "kukeon"])
            #expect(
                left.status == 0 && left.stdout.contains("iifname \"kuke-*\" oifname \"kuke-*\"") && !left.stdout.contains("kuke-main"), "\(left)")
        }
    }

    /// `body` run with this thread in the sandbox's network namespace, where its nfnetlink
    /// sockets (and libnftables') see the sandbox's table.
    func inNamespace<T>(of sandbox: KernelSandbox, _ body: () throws -> T) throws -> T {
        // Glibc's module leaves setns(2) out (it is _GNU_SOURCE): looked up by name.
        typealias SetNamespace = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else {
            throw KernelSandbox.SetupError(description: "setns(2) not found")
        }
        let setns = unsafeBitCast(symbol, to: SetNamespace.self)
        let newNet: Int32 = 0x4000_0000  // CLONE_NEWNET
        let original = open("/proc/thread-self/ns/net", O_RDONLY)
        let target = open("/run/netns/\(sandbox.namespace)", O_RDONLY)
        defer {
            close(original)
            close(target)
        }
        guard original >= 0, target >= 0, setns(target, newNet) == 0 else {
            throw KernelSandbox.SetupError(description: "cannot enter network namespace \(sandbox.namespace): errno \(errno)")
        }
        defer { _ = setns(original, newNet) }
        return try body()
    }

    /// The rules of `nft -j list table inet kukeon`: all of them, those with a comment, and the chains.
    func listedRules(_ sandbox: KernelSandbox) throws -> (all: Int, commented: Int, chains: [String]) {
        let listed = sandbox.run(["nft", "-j", "list", "table", "inet", "kukeon"])
        #expect(listed.status == 0, "\(listed)")
        let objects = try JSONParser.parse(listed.stdout)["nftables"]?.arrayValue ?? []
        let rules = objects.compactMap { $0["rule"] }
        let chains = objects.compactMap { $0["chain"]?["name"]?.stringValue }
        return (rules.count, rules.filter { $0["comment"] != nil }.count, chains)
    }

    @Test("the rule count kuke reads over nfnetlink is the number of rules nft lists; a chain flushed by hand is drift diff shows and apply repairs")
    func ruleCount() throws {
        try KernelSandbox.with { sandbox in
            let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("examples").path
            let applied = sandbox.kuke("apply", "-f", examples)
            #expect(applied.status == 0, "\(applied)")
            let firewall = NftablesFirewall()
            let listed = try listedRules(sandbox)
            let summary = try #require(try inNamespace(of: sandbox) { try firewall.summary() })
            #expect(summary.ruleCount == listed.all && listed.all == listed.commented && listed.all == 22, "\(summary) \(listed)")
            var observed = try #require(try inNamespace(of: sandbox) { try firewall.observe() }).summary
            observed.digest = summary.digest  // a listing gives no digest
            #expect(summary == observed && summary.digest != nil)
            // The digest kuke recorded after its write is the one the kernel gives now.
            let record = try String(contentsOfFile: "\(sandbox.runPath)/.kuke.table", encoding: .utf8)
            #expect(record == "kuke:\(summary.fingerprint ?? "") \(summary.digest ?? "")\n", "\(record)")
            #expect(summary.owner == FirewallPlanner.owner(runPath: sandbox.runPath) && summary.fingerprint != nil)
            #expect(sandbox.kuke("diff", "-f", examples).status == 0)

            // `nft flush chain`: the table and its comment stay, its rules go.
            let chain = try #require(listed.chains.first { $0.hasPrefix("egress_") })
            #expect(sandbox.run(["nft", "flush", "chain", "inet", "kukeon", chain]).status == 0)
            let flushed = try listedRules(sandbox)
            #expect(flushed.all < listed.all)
            #expect(try inNamespace(of: sandbox) { try firewall.summary() }?.ruleCount == flushed.all)
            let diff = sandbox.kuke("diff", "-f", examples)
            #expect(diff.status == 1 && diff.stdout.contains("+  counter drop comment \"deny\""), "\(diff)")
            let repaired = sandbox.kuke("apply", "-f", examples)
            #expect(repaired.status == 0, "\(repaired)")
            #expect(try listedRules(sandbox).all == listed.all)
            #expect(try inNamespace(of: sandbox) { try firewall.summary() }?.ruleCount == listed.all)
            #expect(sandbox.kuke("diff", "-f", examples).status == 0)
        }
    }
}
