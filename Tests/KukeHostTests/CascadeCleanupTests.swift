import Foundation
import Glibc
import KukeEngine
import Testing

@testable import KukeHost

/// What `delete --cascade` removes after DEL (the bridge plugin's masquerade rules) and how it
/// decides whether a cached namespace path is still the container's.
@Suite("Cascade cleanup")
struct CascadeCleanupTests {
    static let container = "0f8b52312f5690f2cac8860284c67f1494b30f39afaf15c43784eeba564385a9"
    static let comment = #"name: \"main-blog\" id: \"\#(container)\""#
    /// `iptables -t nat -S` after Podman 4.3 attached a container and kuke's DEL ran without a
    /// namespace (the bridge plugin 1.1.1's rules), with another attachment's and a foreign rule.
    static let listing = """
        -P PREROUTING ACCEPT
        -P INPUT ACCEPT
        -P OUTPUT ACCEPT
        -P POSTROUTING ACCEPT
        -N CNI-6a3846db5c5970a82362647e
        -N CNI-ffff46db5c5970a82362647e
        -A POSTROUTING -s 10.88.0.2/32 -m comment --comment "\(comment)" -j CNI-6a3846db5c5970a82362647e
        -A POSTROUTING -s 10.88.0.3/32 -m comment --comment "name: \\"main-blog\\" id: \\"other\\"" -j CNI-ffff46db5c5970a82362647e
        -A POSTROUTING -o eth9 -j MASQUERADE
        -A CNI-6a3846db5c5970a82362647e -d 10.88.0.0/24 -m comment --comment "\(comment)" -j ACCEPT
        -A CNI-6a3846db5c5970a82362647e ! -d 224.0.0.0/4 -m comment --comment "\(comment)" -j MASQUERADE
        -A CNI-ffff46db5c5970a82362647e -d 10.88.0.0/24 -m comment --comment "name: \\"main-blog\\" id: \\"other\\"" -j ACCEPT
        """

    @Test("the comment is the plugins' FormatComment, and a listing line splits as the shell would")
    func parsing() {
        #expect(MasqueradeRules.comment(network: "main-blog", containerID: "c1") == #"name: "main-blog" id: "c1""#)
        let words = MasqueradeRules.arguments(of: #"-A POSTROUTING -s 10.88.0.2/32 -m comment --comment "name: \"a b\" id: \"x\\y\"" -j CNI-1"#)
        #expect(words == ["-A", "POSTROUTING", "-s", "10.88.0.2/32", "-m", "comment", "--comment", #"name: "a b" id: "x\y""#, "-j", "CNI-1"])
        let (chains, rules) = MasqueradeRules.parse(Self.listing)
        #expect(chains == ["CNI-6a3846db5c5970a82362647e", "CNI-ffff46db5c5970a82362647e"])
        #expect(rules.count == 6 && rules[0].target == "CNI-6a3846db5c5970a82362647e")
        #expect(rules[0].comment == MasqueradeRules.comment(network: "main-blog", containerID: Self.container))
    }

    @Test("the plan removes exactly the attachment's jump, then flushes and deletes its chain; others' rules stay")
    func plan() {
        let comment = MasqueradeRules.comment(network: "main-blog", containerID: Self.container)
        let commands = MasqueradeRules.plan(listing: Self.listing, comment: comment)
        #expect(
            commands == [
                [
                    "-D", "POSTROUTING", "-s", "10.88.0.2/32", "-m", "comment", "--comment", comment, "-j", "CNI-6a3846db5c5970a82362647e",
                ],
                ["-F", "CNI-6a3846db5c5970a82362647e"], ["-X", "CNI-6a3846db5c5970a82362647e"],
            ])
        #expect(
            MasqueradeRules.plan(listing: Self.listing, comment: MasqueradeRules.comment(network: "main-shop", containerID: Self.container)).isEmpty)
        // A chain with a rule of another comment keeps it: only the attachment's rule goes.
        let shared = Self.listing + "\n-A CNI-6a3846db5c5970a82362647e -j RETURN"
        #expect(
            MasqueradeRules.plan(listing: shared, comment: comment).suffix(2).map { Array($0.prefix(2)) } == [
                ["-D", "CNI-6a3846db5c5970a82362647e"], ["-D", "CNI-6a3846db5c5970a82362647e"],
            ])
        // Left without its jump (a DEL that stopped half way), the chain is still found by its rules.
        let orphan = Self.listing.split(separator: "\n").filter { !$0.contains("10.88.0.2/32") }.joined(separator: "\n")
        #expect(
            MasqueradeRules.plan(listing: orphan, comment: comment) == [
                ["-F", "CNI-6a3846db5c5970a82362647e"], ["-X", "CNI-6a3846db5c5970a82362647e"],
            ])
    }

    @Test("a /proc/<pid>/ns/net path is the container's only if that process started before the cache entry was written")
    func processNamespace() {
        #expect(NetworkNamespaceProbe.processID(in: "/proc/13406/ns/net") == 13406)
        #expect(NetworkNamespaceProbe.processID(in: "/proc/13406/task/13407/ns/net") == 13406)
        for path in ["/run/netns/netns-ae11", "/proc/self/ns/net", "/proc/0/ns/net", "/proc/12/ns/mnt", "proc/12/ns/net"] {
            #expect(NetworkNamespaceProbe.processID(in: path) == nil, "\(path)")
        }
        let stat = "13406 (sleep) S 13380 13406 13406 0 -1 1077936384 103 0 0 0 0 0 0 0 20 0 1 0 4711 1634304 1 18446744073709551615"
        #expect(NetworkNamespaceProbe.startTicks(stat: stat) == 4711)
        #expect(NetworkNamespaceProbe.startTicks(stat: "7 (a) b) c) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0") == 99)
        #expect(NetworkNamespaceProbe.verdict(pid: 7, started: 1000, written: 1000.5) == .usable)
        guard case .foreign(let why) = NetworkNamespaceProbe.verdict(pid: 7, started: 1030, written: 1000.5) else {
            Issue.record("a process started after the entry was written is not the container's")
            return
        }
        #expect(why.contains("PID 7") && why.contains("reused"))
    }

    @Test("the probe on this host: its own namespace is usable, a missing path and a plain file are gone")
    func probe() throws {
        #expect(NetworkNamespaceProbe.check("/proc/self/ns/net", cachePath: "/nonexistent") == .usable)
        #expect(NetworkNamespaceProbe.check("/nonexistent/ns", cachePath: "/nonexistent") == .gone)
        #expect(NetworkNamespaceProbe.check("/proc/self/stat", cachePath: "/nonexistent") == .gone)
        // This process started before a cache entry written now: its namespace is usable.
        let entry = "/tmp/kuke-probe-\(getpid())"
        #expect(FileManager.default.createFile(atPath: entry, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: entry) }
        #expect(NetworkNamespaceProbe.check("/proc/\(getpid())/ns/net", cachePath: entry) == .usable)
    }
}
