import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// The seed's network boundary on a real kernel: cells attached by Debian's CNI bridge plugin,
/// each in a network namespace of its own, the sandbox namespace acting as the host.
@Suite("Kernel: isolation between spaces", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct IsolationKernelTests {
    static let pluginDirectory = "/usr/lib/cni"

    /// Attaches a new network namespace to a space with the bridge plugin and its conflist; the cell's address.
    func attach(_ sandbox: KernelSandbox, space: String, cell: String) throws -> String {
        let conflist = try JSONParser.parse(String(contentsOfFile: "\(sandbox.cniDirectory)/main-\(space).conflist", encoding: .utf8))
        guard case .object(var plugin)? = conflist["plugins"]?.arrayValue?.first, case .object(var ipam)? = plugin["ipam"] else {
            throw KernelSandbox.SetupError(description: "no bridge plugin in the conflist")
        }
        ipam["dataDir"] = .string("\(sandbox.directory)/ipam")
        plugin["ipam"] = .object(ipam)
        plugin["cniVersion"] = conflist["cniVersion"]
        plugin["name"] = conflist["name"]
        #expect(Subprocess.run(["ip", "netns", "add", cell]).status == 0)
        let added = sandbox.run(
            [
                "env", "CNI_COMMAND=ADD", "CNI_CONTAINERID=\(cell)", "CNI_NETNS=/run/netns/\(cell)", "CNI_IFNAME=eth0",
                "CNI_PATH=\(Self.pluginDirectory)", "\(Self.pluginDirectory)/bridge",
            ], stdin: JSONValue.object(plugin).canonicalText)
        guard added.status == 0, let address = try JSONParser.parse(added.stdout)["ips"]?.arrayValue?.first?["address"]?.stringValue else {
            throw KernelSandbox.SetupError(description: "CNI ADD failed: \(added)")
        }
        return String(address.split(separator: "/")[0])
    }

    func ping(from cell: String, _ address: String) -> Bool {
        Subprocess.run(["ip", "netns", "exec", cell, "ping", "-c", "1", "-W", "1", address]).status == 0
    }

    @Test(
        "cells reach each other within a space, not across spaces; the gateway is reachable; a flushed table is reported and repaired",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "\(pluginDirectory)/bridge"), "needs containernetworking-plugins in /usr/lib/cni"))
    func isolation() throws {
        try KernelSandbox.with { sandbox in
            let manifest = """
                apiVersion: v1beta1
                kind: Realm
                metadata: {name: main}
                ---
                apiVersion: v1beta1
                kind: Space
                metadata: {name: a}
                spec: {realmId: main}
                ---
                apiVersion: v1beta1
                kind: Space
                metadata: {name: b}
                spec: {realmId: main}
                """
            let path = try sandbox.writeManifest("spaces.yaml", manifest)
            #expect(sandbox.kuke("apply", "-f", path).status == 0)
            let token = UInt32.random(in: 0...UInt32.max)
            let cells = ["a1", "a2", "b1"].map { "kuke-cell-\($0)-\(token)" }
            defer { for cell in cells { _ = Subprocess.run(["ip", "netns", "del", cell]) } }
            let a1 = try attach(sandbox, space: "a", cell: cells[0])
            let a2 = try attach(sandbox, space: "a", cell: cells[1])
            let b1 = try attach(sandbox, space: "b", cell: cells[2])
            #expect(sandbox.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"]).status == 0)

            #expect(ping(from: cells[0], a2), "within a space")
            #expect(ping(from: cells[0], "10.88.0.1"), "to the space's gateway")
            #expect(!ping(from: cells[0], b1), "across spaces")
            #expect(!ping(from: cells[2], a1), "across spaces, the other way")

            // Flushed by hand: diff reports it, apply restores it.
            #expect(sandbox.run(["nft", "flush", "chain", "inet", "kukeon", "forward"]).status == 0)
            #expect(ping(from: cells[0], b1), "with the rules flushed, the host routes between spaces")
            let diff = sandbox.kuke("diff", "-f", path)
            #expect(diff.status == 1 && diff.stdout.contains("nftables/inet kukeon"), "\(diff)")
            #expect(sandbox.kuke("apply", "-f", path).stdout.contains("Firewall \"inet kukeon\": updated"))
            #expect(!ping(from: cells[0], b1))
        }
    }
}
