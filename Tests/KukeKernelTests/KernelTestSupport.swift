import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import KukeWatch
import Testing

let examples = """
    apiVersion: v1beta1
    kind: Realm
    metadata:
      name: main
    spec: {}
    ---
    apiVersion: v1beta1
    kind: Space
    metadata:
      name: blog
    spec:
      realmId: main
    ---
    apiVersion: v1beta1
    kind: Space
    metadata:
      name: analytics-pipeline
    spec:
      realmId: main
    """

extension KernelSandbox {
    var blogCgroup: String { "\(cgroupRoot)/kukeon/main/blog" }
    var blogConflist: String { "\(cniDirectory)/main-blog.conflist" }
    var blogRecord: String { "\(runPath)/main/blog/space.yaml" }

    /// Applies the standard two-space batch and checks it succeeded.
    func applyExamples(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let path = try writeManifest("examples.yaml", examples)
        let result = kuke("apply", "-f", path)
        #expect(result.status == 0, "\(result)", sourceLocation: sourceLocation)
        return path
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static let pluginDirectory = "/usr/lib/cni"
    static let hasBridgePlugin = FileManager.default.isExecutableFile(atPath: "\(pluginDirectory)/bridge")

    /// Attaches a new network namespace `cell` to a space as a CNI runtime does (libcni's
    /// AddNetworkList): the bridge plugin's ADD with the space's conflist, then the result cached
    /// where and as libcni caches it (`<state>/results/<network>-<containerID>-<ifName>`, the
    /// `cachedInfo` object of libcni's api.go: kind `cniCacheV1`, `containerId`, `config` as
    /// base64 of the list's bytes, `ifName`, `networkName`, `netns`, `cniArgs`, `capabilityArgs`,
    /// `result`). host-local's `dataDir` is set to the sandbox's state directory (a runtime
    /// configured so; the host's /var/lib/cni is never touched).
    func attach(space: String, cell: String, realm: String = "main") throws -> Cell {
        let network = "\(realm)-\(space)"
        guard case .object(var list) = try JSONParser.parse(String(contentsOfFile: "\(cniDirectory)/\(network).conflist", encoding: .utf8)),
            case .object(var plugin)? = list["plugins"]?.arrayValue?.first, case .object(var ipam)? = plugin["ipam"]
        else { throw KernelSandbox.SetupError(description: "no bridge plugin in the conflist") }
        ipam["dataDir"] = .string("\(cniStateDirectory)/networks")
        plugin["ipam"] = .object(ipam)
        list["plugins"] = .array([.object(plugin)])
        let configBytes = JSONValue.object(list).compactText
        plugin["cniVersion"] = list["cniVersion"]
        plugin["name"] = list["name"]
        guard Subprocess.run(["ip", "netns", "add", cell]).status == 0 else { throw KernelSandbox.SetupError(description: "ip netns add \(cell)") }
        let added = run(
            [
                "env", "CNI_COMMAND=ADD", "CNI_CONTAINERID=\(cell)", "CNI_NETNS=/run/netns/\(cell)", "CNI_IFNAME=eth0",
                "CNI_PATH=\(Self.pluginDirectory)", "\(Self.pluginDirectory)/bridge",
            ], stdin: JSONValue.object(plugin).canonicalText)
        guard added.status == 0, let result = try? JSONParser.parse(added.stdout),
            let ip = result["ips"]?.arrayValue?.first(where: { $0["address"]?.stringValue?.contains(".") == true }),
            let address = ip["address"]?.stringValue, let gateway = ip["gateway"]?.stringValue
        else { throw KernelSandbox.SetupError(description: "CNI ADD failed: \(added)") }
        // A dual-stack space's conflist gives an IPv6 address too.
        let ip6 = result["ips"]?.arrayValue?.first { $0["address"]?.stringValue?.contains(":") == true }
        let cache: JSONValue = .object([
            "kind": .string("cniCacheV1"), "containerId": .string(cell), "config": .string(Data(configBytes.utf8).base64EncodedString()),
            "ifName": .string("eth0"), "networkName": .string(network), "netns": .string("/run/netns/\(cell)"), "cniArgs": .array([]),
            "capabilityArgs": .object([:]), "result": result,
        ])
        try FileManager.default.createDirectory(atPath: "\(cniStateDirectory)/results", withIntermediateDirectories: true)
        try cache.compactText.write(toFile: "\(cniStateDirectory)/results/\(network)-\(cell)-eth0", atomically: true, encoding: .utf8)
        _ = Subprocess.run(["ip", "-n", cell, "link", "set", "lo", "up"])
        return Cell(
            namespace: cell, address: String(address.split(separator: "/")[0]), gateway: gateway,
            address6: ip6?["address"]?.stringValue.map { String($0.split(separator: "/")[0]) }, gateway6: ip6?["gateway"]?.stringValue)
    }
}

extension KernelSandbox {
    /// The outside world: a namespace `name` behind the veth `out0` (203.0.113.1 on the host's
    /// side; 203.0.113.2 and .3 there, the default route back through the host).
    func makeOutside(_ name: String) throws {
        let steps: [[String]] = [
            ["ip", "netns", "add", name],
            ["ip", "-n", namespace, "link", "add", "out0", "type", "veth", "peer", "name", "eth0", "netns", name],
            ["ip", "-n", namespace, "address", "add", "203.0.113.1/24", "dev", "out0"],
            ["ip", "-n", namespace, "link", "set", "out0", "up"],
            ["ip", "-n", name, "address", "add", "203.0.113.2/24", "dev", "eth0"],
            ["ip", "-n", name, "address", "add", "203.0.113.3/24", "dev", "eth0"],
            ["ip", "-n", name, "link", "set", "eth0", "up"],
            ["ip", "-n", name, "link", "set", "lo", "up"],
            ["ip", "-n", name, "route", "add", "default", "via", "203.0.113.1"],
        ]
        for step in steps {
            let result = Subprocess.run(step)
            guard result.status == 0 else { throw KernelSandbox.SetupError(description: "\(step.joined(separator: " ")): \(result)") }
        }
    }
}

/// A TCP server that accepts on every port given, on every IPv4 and IPv6 address, writes `ok`
/// and closes.
let tcpServer = """
    import selectors, socket, sys
    selector = selectors.DefaultSelector()
    for port in sys.argv[1:]:
        listener = socket.socket(socket.AF_INET6)
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("::", int(port)))
        listener.listen(16)
        selector.register(listener, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            connection, _ = key.fileobj.accept()
            connection.sendall(b"ok")
            connection.close()
    """

/// Starts `tcpServer` in `namespace` and waits until it listens; the caller kills it.
func serveTCP(in namespace: String, ports: [Int]) throws -> Subprocess.Running {
    guard let server = Subprocess.start(["ip", "netns", "exec", namespace, "python3", "-c", tcpServer] + ports.map(String.init)),
        Subprocess.waitUntil(timeout: 10, { server.stdout.contains("ready") })
    else { throw KernelSandbox.SetupError(description: "the TCP server in \(namespace) did not start") }
    return server
}

/// Whether `cell` gets `ok` from a TCP connection to `address`:`port` within 1.5 s.
func connect(_ cell: Cell, _ address: String, _ port: Int) -> Bool {
    let client = "import socket, sys\nprint(socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5).recv(2).decode())"
    let result = Subprocess.run(["ip", "netns", "exec", cell.namespace, "python3", "-c", client, address, String(port)])
    return result.status == 0 && result.stdout.hasPrefix("ok")
}

/// Whether one ping from `cell` to `address` (IPv4 or IPv6) is answered within a second.
func ping(_ cell: Cell, _ address: String) -> Bool {
    Subprocess.run(["ip", "netns", "exec", cell.namespace, "ping", address.contains(":") ? "-6" : "-4", "-c", "1", "-W", "1", address]).status == 0
}

/// A cell: a network namespace attached to a space with the bridge plugin.
struct Cell {
    var namespace: String
    var address: String
    var gateway: String
    /// A dual-stack space's cell: its IPv6 address and gateway.
    var address6: String? = nil
    var gateway6: String? = nil
}
