import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// Dual-stack spaces on a real kernel: cells attached by Debian's CNI bridge plugin get an
/// IPv4 and an IPv6 address from the space's conflist; an outside namespace behind a veth holds
/// fd00:203::2 and ::3 (and 203.0.113.2), with TCP servers on both families.
@Suite("Kernel: dual-stack spaces", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct DualStackKernelTests {
    static let manifest = """
        apiVersion: v1beta1
        kind: Realm
        metadata: {name: main}
        spec:
          network: {ipv6: true}
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
                - cidr: fd00:203::2/128
                  ports: [8080]
                - cidr: fd00:203::3/128
                  ports: [icmp]
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: b}
        spec: {realmId: main}
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: v4}
        spec:
          realmId: main
          network: {ipv6: false}
        """

    @Test(
        "dual-stack cells reach each other over IPv6 within a space, not across spaces; deny lets out only the allowed IPv6 destination and port; the bridge takes no router advertisements",
        .enabled(if: KernelSandbox.hasBridgePlugin, "needs containernetworking-plugins in /usr/lib/cni"))
    func dualStack() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("spaces.yaml", Self.manifest)
            let applied = sandbox.kuke("apply", "-f", path, "--ipv6-pool", "fd00:88::/48")
            #expect(applied.status == 0, "\(applied)")
            let recordA = try RecordCodec.decodeSpace(String(contentsOfFile: "\(sandbox.runPath)/main/a/space.yaml", encoding: .utf8), file: "a")
            let recordB = try RecordCodec.decodeSpace(String(contentsOfFile: "\(sandbox.runPath)/main/b/space.yaml", encoding: .utf8), file: "b")
            let recordV4 = try RecordCodec.decodeSpace(String(contentsOfFile: "\(sandbox.runPath)/main/v4/space.yaml", encoding: .utf8), file: "v4")
            #expect(recordA.status.network?.ipv6Subnet?.description == "fd00:88::/64", "\(recordA.status)")
            #expect(recordB.status.network?.ipv6Subnet?.description == "fd00:88:0:1::/64", "\(recordB.status)")
            #expect(recordV4.status.network?.ipv6Subnet == nil, "a space may opt out of its realm's default")
            let conflist = try String(contentsOfFile: "\(sandbox.cniDirectory)/main-a.conflist", encoding: .utf8)
            #expect(conflist.contains("\"subnet\": \"fd00:88::/64\"") && conflist.contains("\"dst\": \"::/0\""), "\(conflist)")
            for (setting, value) in [("disable_ipv6", "0"), ("accept_ra", "0"), ("autoconf", "0")] {
                let read = sandbox.run(["cat", "/proc/sys/net/ipv6/conf/kuke-main-a/\(setting)"]).stdout.trimmingCharacters(
                    in: .whitespacesAndNewlines)
                #expect(read == value, "kuke-main-a \(setting) is \(read)")
            }
            #expect(sandbox.kuke("diff", "-f", path, "--ipv6-pool", "fd00:88::/48").status == 0, "converged")

            let token = UInt32.random(in: 0...UInt32.max)
            let outside = "kuke-out-\(token)"
            let names = ["a1", "a2", "b1"].map { "kuke-cell-\($0)-\(token)" }
            defer { for namespace in names + [outside] { _ = Subprocess.run(["ip", "netns", "del", namespace]) } }
            let a1 = try sandbox.attach(space: "a", cell: names[0])
            let a2 = try sandbox.attach(space: "a", cell: names[1])
            let b1 = try sandbox.attach(space: "b", cell: names[2])
            let (a1v6, a2v6, b1v6) = (try #require(a1.address6), try #require(a2.address6), try #require(b1.address6))
            #expect(a1v6.hasPrefix("fd00:88::") && b1v6.hasPrefix("fd00:88:0:1:"), "\(a1v6) \(b1v6)")
            try sandbox.makeOutside(outside)
            let steps: [[String]] = [
                ["ip", "-n", sandbox.namespace, "address", "add", "fd00:203::1/64", "dev", "out0", "nodad"],
                ["ip", "-n", outside, "address", "add", "fd00:203::2/64", "dev", "eth0", "nodad"],
                ["ip", "-n", outside, "address", "add", "fd00:203::3/64", "dev", "eth0", "nodad"],
                ["ip", "-n", outside, "-6", "route", "add", "default", "via", "fd00:203::1"],
            ]
            for step in steps { #expect(Subprocess.run(step).status == 0, "\(step)") }
            #expect(sandbox.run(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]).status == 0)
            guard let server = Subprocess.start(["ip", "netns", "exec", outside, "python3", "-c", tcpServer, "8080", "9090"]),
                Subprocess.waitUntil(timeout: 10, { server.stdout.contains("ready") })
            else { throw KernelSandbox.SetupError(description: "the server in \(outside) did not start") }
            defer { server.signal(SIGKILL) }
            let a2Server = try serveTCP(in: a2.namespace, ports: [7000])
            defer { a2Server.signal(SIGKILL) }

            // Within the space over IPv6; across spaces, nothing.
            #expect(Subprocess.waitUntil(timeout: 5) { ping(a1, a2v6) }, "a1 to a2 over IPv6")
            #expect(connect(a1, a2v6, 7000), "TCP over IPv6 within space a")
            let gateway6 = try #require(a1.gateway6)
            #expect(Subprocess.waitUntil(timeout: 5) { ping(a1, gateway6) }, "the IPv6 gateway answers: \(gateway6)")
            #expect(!ping(a1, b1v6) && !ping(b1, a2v6) && !connect(b1, a2v6, 7000), "no IPv6 across spaces")
            #expect(ping(b1, a2.address) == false, "nor IPv4")
            // Egress over IPv6: a (deny) reaches fd00:203::2 port 8080 only, and may ping ::3; b is open.
            #expect(Subprocess.waitUntil(timeout: 5) { connect(b1, "fd00:203::3", 9090) }, "open space b reaches the outside over IPv6")
            #expect(connect(a1, "fd00:203::2", 8080), "the allowed IPv6 destination and port")
            #expect(!connect(a1, "fd00:203::2", 9090) && !connect(a1, "fd00:203::3", 8080), "another port, another destination")
            #expect(ping(a1, "fd00:203::3") && !ping(a1, "fd00:203::2"), "icmp allows ping (ICMPv6) to ::3 only")
            #expect(!connect(a1, "203.0.113.2", 8080), "IPv4 out of a is denied: no IPv4 rule")

            // Router advertisements turned back on by hand are drift: diff shows it, apply repairs it.
            #expect(sandbox.run(["sysctl", "-qw", "net.ipv6.conf.kuke-main-a.accept_ra=1"]).status == 0)
            let diff = sandbox.kuke("diff", "-f", path, "--ipv6-pool", "fd00:88::/48")
            #expect(diff.status == 1 && diff.stdout.contains("-accept_ra: 1") && diff.stdout.contains("+accept_ra: 0"), "\(diff)")
            #expect(sandbox.kuke("apply", "-f", path, "--ipv6-pool", "fd00:88::/48").status == 0)
            #expect(sandbox.run(["cat", "/proc/sys/net/ipv6/conf/kuke-main-a/accept_ra"]).stdout.hasPrefix("0"))

            let wide = sandbox.kuke("get", "spaces", "-o", "wide", "--ipv6-pool", "fd00:88::/48")
            #expect(wide.stdout.contains("10.88.0.0/24,fd00:88::/64"), "\(wide)")
            // The realm's default turned off: its spaces become IPv4-only, their bridges lose IPv6 and its addresses.
            let off = try sandbox.writeManifest(
                "off.yaml", Self.manifest.replacingOccurrences(of: "network: {ipv6: true}", with: "network: {ipv6: false}"))
            let turnedOff = sandbox.kuke("apply", "-f", off, "--ipv6-pool", "fd00:88::/48")
            #expect(turnedOff.status == 0 && turnedOff.stdout.contains("turn IPv6 off for bridge kuke-main-b"), "\(turnedOff)")
            #expect(sandbox.run(["cat", "/proc/sys/net/ipv6/conf/kuke-main-b/disable_ipv6"]).stdout.hasPrefix("1"))
            let addresses = sandbox.run(["ip", "-6", "address", "show", "dev", "kuke-main-b"]).stdout
            #expect(!addresses.contains("fd00:88"), "the /64's gateway address went with IPv6: \(addresses)")
            let recordOff = try RecordCodec.decodeSpace(String(contentsOfFile: "\(sandbox.runPath)/main/b/space.yaml", encoding: .utf8), file: "b")
            #expect(recordOff.status.network?.ipv6Subnet == nil)
            #expect(sandbox.kuke("diff", "-f", off, "--ipv6-pool", "fd00:88::/48").status == 0)
            #expect(sandbox.kuke("delete", "realm", "main", "--cascade").status == 0)
        }
    }
}
