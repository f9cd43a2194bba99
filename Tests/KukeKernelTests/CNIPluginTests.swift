import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// Debian's real CNI plugins, given the conflist kuke wrote, attach a container to kuke's bridge.
@Suite("Kernel: real CNI bridge plugin", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct CNIPluginTests {
    static let pluginDirectory = "/usr/lib/cni"

    @Test(
        "ADD attaches a container namespace to our bridge with an address in the space's subnet; DEL cleans up",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "\(pluginDirectory)/bridge"), "needs containernetworking-plugins in /usr/lib/cni"))
    func bridgePlugin() throws {
        try KernelSandbox.with { sandbox in
            _ = try sandbox.applyExamples()
            let text = try String(contentsOfFile: sandbox.blogConflist, encoding: .utf8)
            let conflist = try JSONParser.parse(text)
            let values = try #require(Conflist.recordedValues(in: conflist))
            let bridgesBefore = sandbox.links().filter { $0.value == "bridge" }.keys.sorted()

            // What a runtime (libcni) hands the first plugin: its config with cniVersion and name injected.
            guard case .object(var plugin)? = conflist["plugins"]?.arrayValue?.first, case .object(var ipam)? = plugin["ipam"] else {
                Issue.record("conflist has no bridge plugin")
                return
            }
            ipam["dataDir"] = .string("\(sandbox.directory)/ipam")  // keep host-local state inside the sandbox
            plugin["ipam"] = .object(ipam)
            plugin["cniVersion"] = conflist["cniVersion"]
            plugin["name"] = conflist["name"]
            let config = JSONValue.object(plugin).canonicalText

            let container = "kuke-ctr-\(UInt32.random(in: 0...UInt32.max))"
            #expect(Subprocess.run(["ip", "netns", "add", container]).status == 0)
            defer { _ = Subprocess.run(["ip", "netns", "del", container]) }
            func runPlugin(_ command: String) -> Subprocess.Result {
                sandbox.run(
                    [
                        "env", "CNI_COMMAND=\(command)", "CNI_CONTAINERID=kuke-test", "CNI_NETNS=/run/netns/\(container)",
                        "CNI_IFNAME=eth0", "CNI_PATH=\(Self.pluginDirectory)", "\(Self.pluginDirectory)/bridge",
                    ], stdin: config)
            }

            let added = runPlugin("ADD")
            #expect(added.status == 0, "\(added)")
            let result = try JSONParser.parse(added.stdout)
            let address = try #require(result["ips"]?.arrayValue?.first?["address"]?.stringValue, "\(added.stdout)")
            let ip = try #require(IPv4Address(String(address.split(separator: "/")[0])))
            #expect(values.subnet.contains(ip), "\(address) not in \(values.subnet)")

            // No second bridge appeared, and the container's veth peer is enslaved to ours.
            #expect(sandbox.links().filter { $0.value == "bridge" }.keys.sorted() == bridgesBefore)
            let members = sandbox.run(["ip", "-j", "link", "show", "master", values.bridge])
            #expect(members.stdout.contains("\"ifname\""), "\(members)")
            let inside = Subprocess.run(["ip", "-n", container, "-4", "addr", "show", "eth0"])
            #expect(inside.stdout.contains(address), "\(inside)")
            let gateway = sandbox.run(["ip", "-4", "addr", "show", values.bridge])
            #expect(gateway.stdout.contains(values.subnet.gateway.description), "\(gateway)")

            let deleted = runPlugin("DEL")
            #expect(deleted.status == 0, "\(deleted)")
            #expect(!sandbox.run(["ip", "-j", "link", "show", "master", values.bridge]).stdout.contains("\"ifname\""))
            #expect(!Subprocess.run(["ip", "-n", container, "link", "show", "eth0"]).stdout.contains("eth0"))
        }
    }
}
