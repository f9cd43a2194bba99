import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// Protocols in `ports` and `dns: allow` on a real kernel, with real cells (network namespaces
/// attached by Debian's CNI bridge plugin) and an outside namespace behind a veth: TCP and UDP
/// servers on 203.0.113.2, a real DNS server (dnsmasq) on 203.0.113.3. A space without a policy
/// reaches every one of them first, so each "blocked" below is the firewall's doing.
@Suite("Kernel: egress protocols and name resolution", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct EgressProtocolKernelTests {
    static let dnsmasq = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static let manifest = """
        apiVersion: v1beta1
        kind: Realm
        metadata: {name: main}
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: udp}
        spec:
          realmId: main
          network:
            egress:
              default: deny
              allow:
                - cidr: 203.0.113.2/32
                  ports: ["53/udp"]
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: ping}
        spec:
          realmId: main
          network:
            egress:
              default: deny
              allow:
                - cidr: 203.0.113.2/32
                  ports: [icmp]
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: dns}
        spec:
          realmId: main
          network:
            egress:
              default: deny
              dns: allow
        ---
        apiVersion: v1beta1
        kind: Space
        metadata: {name: open}
        spec: {realmId: main}
        """

    /// TCP servers on 203.0.113.2 ports 53 and 80, UDP servers on 53 and 54: each answers `ok`.
    static let servers = """
        import selectors, socket
        selector = selectors.DefaultSelector()
        for port in (53, 80):
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("203.0.113.2", port))
            listener.listen(16)
            selector.register(listener, selectors.EVENT_READ, "tcp")
        for port in (53, 54):
            datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            datagrams.bind(("203.0.113.2", port))
            selector.register(datagrams, selectors.EVENT_READ, "udp")
        print("ready", flush=True)
        while True:
            for key, _ in selector.select():
                if key.data == "tcp":
                    connection, _ = key.fileobj.accept()
                    connection.sendall(b"ok")
                    connection.close()
                else:
                    _, peer = key.fileobj.recvfrom(512)
                    key.fileobj.sendto(b"ok", peer)
        """

    /// Whether `cell` gets `ok` back from a UDP datagram to `address`:`port` within 1.5 s.
    func exchangeUDP(_ cell: Cell, _ address: String, _ port: Int) -> Bool {
        let client = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1.5)
            s.sendto(b"hi", (sys.argv[1], int(sys.argv[2])))
            print(s.recvfrom(16)[0].decode())
            """
        let result = Subprocess.run(["ip", "netns", "exec", cell.namespace, "python3", "-c", client, address, String(port)])
        return result.status == 0 && result.stdout.hasPrefix("ok")
    }

    /// Whether `cell` opens a TCP connection to `address`:`port` within 1.5 s (the server need not say anything).
    func opens(_ cell: Cell, _ address: String, _ port: Int) -> Bool {
        let client = "import socket, sys\nsocket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5).close()"
        return Subprocess.run(["ip", "netns", "exec", cell.namespace, "python3", "-c", client, address, String(port)]).status == 0
    }

    /// `getent hosts NAME` in `cell` through the glibc resolver, with `resolvConf` as the
    /// resolver configuration (in a mount namespace of its own); the address found, or nil.
    func lookUp(_ cell: Cell, _ name: String, resolvConf: String) -> String? {
        let result = Subprocess.run([
            "unshare", "--mount", "sh", "-c", "mount --bind \"$0\" /etc/resolv.conf && exec ip netns exec \"$1\" getent hosts \"$2\"", resolvConf,
            cell.namespace, name,
        ])
        guard result.status == 0 else { return nil }
        return result.stdout.split(separator: " ").first.map(String.init)
    }

    @Test(
        "\"53/udp\" lets UDP 53 through and not UDP 54 or TCP 53; icmp lets ping through and nothing else; dns: allow resolves through the host's resolver and reaches nothing else",
        .enabled(if: KernelSandbox.hasBridgePlugin, "needs containernetworking-plugins in /usr/lib/cni"),
        .enabled(if: dnsmasq != nil, "needs dnsmasq (Debian's dnsmasq-base) as the outside DNS server"))
    func protocolsAndDNS() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("spaces.yaml", Self.manifest)
            // The host's resolver is the outside DNS server, as kuke and the cells see it.
            let resolvConf = "\(sandbox.directory)/resolv.conf"
            try "nameserver 203.0.113.3\noptions timeout:1 attempts:1\n".write(toFile: resolvConf, atomically: false, encoding: .utf8)
            let kuke = { (arguments: [String]) in
                sandbox.run(
                    ["unshare", "--mount", "sh", "-c", "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"", resolvConf, sandbox.kukeBinary]
                        + arguments)
            }
            let applied = kuke(["apply", "-f", path])
            #expect(applied.status == 0, "\(applied)")

            let token = UInt32.random(in: 0...UInt32.max)
            let outside = "kuke-out-\(token)"
            let names = ["udp", "ping", "dns", "open"].map { "kuke-cell-\($0)-\(token)" }
            defer { for namespace in names + [outside] { _ = Subprocess.run(["ip", "netns", "del", namespace]) } }
            let udp = try sandbox.attach(space: "udp", cell: names[0])
            let icmp = try sandbox.attach(space: "ping", cell: names[1])
            let dns = try sandbox.attach(space: "dns", cell: names[2])
            let open = try sandbox.attach(space: "open", cell: names[3])
            try sandbox.makeOutside(outside)
            #expect(sandbox.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"]).status == 0)
            guard let servers = Subprocess.start(["ip", "netns", "exec", outside, "python3", "-c", Self.servers]),
                Subprocess.waitUntil(timeout: 10, { servers.stdout.contains("ready") })
            else { throw KernelSandbox.SetupError(description: "the servers in \(outside) did not start") }
            defer { servers.signal(SIGKILL) }
            guard
                let resolver = Subprocess.start([
                    "ip", "netns", "exec", outside, Self.dnsmasq!, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                    "--bind-interfaces", "--listen-address=203.0.113.3", "--pid-file", "--user=root",
                    "--address=/web.kuke.test/198.51.100.7",
                ])
            else { throw KernelSandbox.SetupError(description: "dnsmasq did not start") }
            defer { resolver.signal(SIGKILL) }

            // Every endpoint answers a space without a policy.
            #expect(
                Subprocess.waitUntil(timeout: 10) { lookUp(open, "web.kuke.test", resolvConf: resolvConf) == "198.51.100.7" },
                "dnsmasq answers: \(resolver.stderr)")
            #expect(exchangeUDP(open, "203.0.113.2", 53) && exchangeUDP(open, "203.0.113.2", 54), "UDP 53 and 54 answer")
            #expect(connect(open, "203.0.113.2", 53) && connect(open, "203.0.113.2", 80) && opens(open, "203.0.113.3", 53), "TCP answers")
            #expect(ping(open, "203.0.113.2") && ping(open, "203.0.113.3"))

            // "53/udp": that protocol and port only.
            #expect(exchangeUDP(udp, "203.0.113.2", 53), "UDP 53 is allowed")
            #expect(!exchangeUDP(udp, "203.0.113.2", 54), "UDP 54 is not")
            #expect(!connect(udp, "203.0.113.2", 53), "TCP 53 is not")
            #expect(!ping(udp, "203.0.113.2"), "ICMP is not")

            // icmp: ping only.
            #expect(ping(icmp, "203.0.113.2"), "ping is allowed")
            #expect(!connect(icmp, "203.0.113.2", 80) && !exchangeUDP(icmp, "203.0.113.2", 53), "TCP and UDP are not")
            #expect(!ping(icmp, "203.0.113.3"), "another destination is not")

            // dns: allow: the host's resolver over UDP and TCP 53, nothing else.
            #expect(lookUp(dns, "web.kuke.test", resolvConf: resolvConf) == "198.51.100.7", "the name resolves in the deny space")
            #expect(opens(dns, "203.0.113.3", 53), "TCP 53 to the resolver")
            #expect(!ping(dns, "203.0.113.3") && !exchangeUDP(dns, "203.0.113.2", 53), "nothing else, and no other server's port 53")
            #expect(lookUp(udp, "web.kuke.test", resolvConf: resolvConf) == nil, "a deny space without dns: allow resolves nothing")
            let record = try String(contentsOfFile: "\(sandbox.runPath)/main/dns/space.yaml", encoding: .utf8)
            #expect(record.contains("  egress:\n    nameservers:\n    - 203.0.113.3\n"), "\(record)")

            // The table as nft lists it reads back as kuke's: nothing to do.
            let diff = kuke(["diff", "-f", path])
            #expect(diff.status == 0, "\(diff)")
            let listing = sandbox.run(["nft", "list", "chain", "inet", "kukeon", "egress_kuke_main_dns"]).stdout
            #expect(listing.contains("ip daddr 203.0.113.3 meta l4proto . th dport { tcp . 53, udp . 53 } accept comment \"dns\""), "\(listing)")

            // The host's resolver moves: the next apply follows it.
            try "nameserver 203.0.113.2\n".write(toFile: resolvConf, atomically: false, encoding: .utf8)
            let moved = kuke(["apply", "-f", path])
            #expect(moved.status == 0 && moved.stdout.contains("Firewall \"inet kukeon\": updated"), "\(moved)")
            #expect(exchangeUDP(dns, "203.0.113.2", 53) && !opens(dns, "203.0.113.3", 53), "the rule follows resolv.conf")
        }
    }
}
