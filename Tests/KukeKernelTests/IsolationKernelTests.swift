import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// The seed's network boundary on a real kernel: cells attached by Debian's CNI bridge plugin,
/// each in a network namespace of its own, the sandbox namespace acting as the host, and one
/// more namespace behind a veth acting as the outside world (203.0.113.2 and .3, TCP servers).
@Suite("Kernel: isolation between spaces and egress policy", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct IsolationKernelTests {
    static let hasPlugin = KernelSandbox.hasBridgePlugin

    /// `kuke` with `/etc/hosts` replaced by `hosts` in a mount namespace of its own, so
    /// egress `host` rules resolve through the real resolver to addresses of the test's choosing.
    func kuke(_ sandbox: KernelSandbox, hosts: String, _ arguments: String...) -> Subprocess.Result {
        sandbox.run(
            ["unshare", "--mount", "sh", "-c", "mount --bind \"$0\" /etc/hosts && exec \"$@\"", hosts, sandbox.kukeBinary] + arguments)
    }

    static let manifest = """
        apiVersion: v1beta1
        kind: Realm
        metadata: {name: main}
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: a}
        spec:
          realmId: main
          network:
            egress:
              default: deny
              allow:
                - cidr: 203.0.113.2/32
                  ports: [8080]
                - host: outside.kuke.test
                  ports: [9090]
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: b}
        spec: {realmId: main}
        """

    @Test(
        "within a space cells talk, across spaces they do not, the gateway answers; default deny lets only allowed destinations out; drift is repaired; delete removes the rules",
        .enabled(if: hasPlugin, "needs containernetworking-plugins in /usr/lib/cni"))
    func boundary() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("spaces.yaml", Self.manifest)
            let hosts = "\(sandbox.directory)/hosts"
            try "127.0.0.1 localhost\n203.0.113.3 outside.kuke.test\n".write(toFile: hosts, atomically: false, encoding: .utf8)
            let applied = kuke(sandbox, hosts: hosts, "apply", "-f", path)
            #expect(applied.status == 0, "\(applied)")

            let token = UInt32.random(in: 0...UInt32.max)
            let outside = "kuke-out-\(token)"
            let names = ["a1", "a2", "b1", "b2"].map { "kuke-cell-\($0)-\(token)" }
            defer { for namespace in names + [outside] { _ = Subprocess.run(["ip", "netns", "del", namespace]) } }
            let a1 = try sandbox.attach(space: "a", cell: names[0])
            let a2 = try sandbox.attach(space: "a", cell: names[1])
            let b1 = try sandbox.attach(space: "b", cell: names[2])
            let b2 = try sandbox.attach(space: "b", cell: names[3])
            try sandbox.makeOutside(outside)
            #expect(sandbox.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"]).status == 0)
            let servers = try [
                serveTCP(in: outside, ports: [80, 8080, 9090]), serveTCP(in: a2.namespace, ports: [7000]), serveTCP(in: b2.namespace, ports: [7000]),
            ]
            defer { for server in servers { server.signal(SIGKILL) } }

            // Isolation.
            #expect(ping(a1, a2.address) && connect(a1, a2.address, 7000), "within space a")
            #expect(ping(b1, b2.address) && connect(b1, b2.address, 7000), "within space b")
            #expect(ping(a1, a1.gateway) && ping(b1, b1.gateway), "each cell reaches its gateway")
            #expect(!ping(a1, b2.address) && !connect(a1, b2.address, 7000), "a to b")
            #expect(!ping(b1, a2.address) && !connect(b1, a2.address, 7000), "b to a")

            // Egress: space a only reaches 203.0.113.2:8080 and outside.kuke.test (203.0.113.3):9090; space b is unaffected.
            #expect(connect(a1, "203.0.113.2", 8080), "the allowed cidr and port")
            #expect(!connect(a1, "203.0.113.2", 80), "a port the rule does not list")
            #expect(!ping(a1, "203.0.113.2"), "ports make a rule TCP-only")
            #expect(connect(a1, "203.0.113.3", 9090) && !connect(a1, "203.0.113.2", 9090), "the host rule follows /etc/hosts")
            #expect(connect(b1, "203.0.113.2", 80) && ping(b1, "203.0.113.2"), "space b has no policy")
            let wide = sandbox.kuke("get", "spaces", "-o", "wide")
            let rowA = wide.stdout.split(separator: "\n").first { $0.hasPrefix("a ") }.map {
                $0.split(separator: " ", omittingEmptySubsequences: true)
            }
            #expect(rowA?.count == 11 && rowA?[7] == "deny(2)" && (rowA.flatMap { UInt64($0[8]) } ?? 0) >= 4, "dropped packets of space a: \(wide)")
            #expect(rowA?.count == 11 && rowA?[9] == "kukeon/main/a", "the CGROUP column: \(wide)")
            let status = try String(contentsOfFile: "\(sandbox.runPath)/main/a/space.yaml", encoding: .utf8)
            #expect(status.contains("host: outside.kuke.test\n      addresses:\n      - 203.0.113.3"), "\(status)")

            // The name moves: the next apply resolves it again.
            try "127.0.0.1 localhost\n203.0.113.2 outside.kuke.test\n".write(toFile: hosts, atomically: false, encoding: .utf8)
            let moved = kuke(sandbox, hosts: hosts, "apply", "-f", path)
            #expect(moved.stdout.contains("Firewall \"inet kukeon\": updated"), "\(moved)")
            #expect(connect(a1, "203.0.113.2", 9090) && !connect(a1, "203.0.113.3", 9090), "the rotated address")

            // Flushed by hand: diff reports it, apply restores it.
            #expect(sandbox.run(["nft", "flush", "chain", "inet", "kukeon", "egress_kuke_main_a"]).status == 0)
            #expect(!connect(a1, "203.0.113.2", 80), "with the egress chain flushed, the kuke-* drop after it still holds")
            #expect(sandbox.run(["nft", "flush", "chain", "inet", "kukeon", "forward"]).status == 0)
            #expect(ping(a1, b2.address), "with the forward chain flushed, the host routes between spaces")
            let diff = kuke(sandbox, hosts: hosts, "diff", "-f", path)
            #expect(diff.status == 1 && diff.stdout.contains("nftables/inet kukeon"), "\(diff)")
            #expect(kuke(sandbox, hosts: hosts, "apply", "-f", path).stdout.contains("Firewall \"inet kukeon\": updated"))
            #expect(!connect(a1, "203.0.113.2", 80) && !ping(a1, b2.address))

            // Delete: b's rules go with it; with the last space the table keeps its kuke-* rules.
            // Cells are detached through the plugins' DEL first (--cascade).
            #expect(sandbox.kuke("delete", "space", "b", "--realm", "main").status == 1, "in use")
            #expect(sandbox.kuke("delete", "space", "b", "--realm", "main", "--cascade").status == 0)
            let listing = sandbox.run(["nft", "list", "table", "inet", "kukeon"])
            #expect(listing.status == 0 && !listing.stdout.contains("kuke-main-b") && listing.stdout.contains("egress_kuke_main_a"), "\(listing)")
            #expect(sandbox.kuke("delete", "space", "a", "--realm", "main", "--cascade").status == 0)
            let left = sandbox.run(["nft", "list", "table", "inet", "kukeon"])
            #expect(
                left.status == 0 && !left.stdout.contains("kuke-main") && left.stdout.contains("unrecorded kuke-*"),
                "no spaces, the kuke-* rules: \(left)")
        }
    }
}
