import Glibc
import KukeEngine
import KukeModel
import SystemPackage

/// `CNIPlugins` through the plugin executables, called the way the CNI specification says a
/// runtime calls them: `CNI_COMMAND` and the other variables in the environment, the plugin's
/// configuration (with `name`, `cniVersion` and, for DEL, the ADD result as `prevResult`) on
/// stdin, an error object on stdout when it fails.
public struct CNIPluginRunner: CNIPlugins {
    /// Searched in order for a plugin named by `type` (`CNI_PATH`).
    public var directories: [String]
    /// What the bridge plugin's DEL leaves without a namespace.
    var masquerade = MasqueradeRules()

    public init(directories: [String]) {
        self.directories = directories
    }

    public func checkNamespace(of attachment: CNIAttachment) -> NamespaceCheck {
        attachment.netns.isEmpty ? .gone : NetworkNamespaceProbe.check(attachment.netns, cachePath: attachment.cachePath)
    }

    public func delete(_ attachment: CNIAttachment, config: String) throws(HostError) {
        let what = "CNI DEL of container \(attachment.containerID) (\(attachment.ifName)) on network \(attachment.networkName)"
        guard let list = try? JSONParser.parse(config) else { throw HostError("\(what): its network configuration is not JSON") }
        let previous = attachment.result.flatMap { try? JSONParser.parse($0) }
        let capabilities = try? JSONParser.parse(attachment.capabilities)
        // A list's plugins run in reverse order for DEL; a single `.conf` is its own plugin.
        let plugins = list["plugins"]?.arrayValue ?? [list]
        for plugin in plugins.reversed() {
            guard case .object(var object) = plugin, let type = object["type"]?.stringValue else {
                throw HostError("\(what): a plugin of the configuration has no type")
            }
            object["name"] = list["name"]
            object["cniVersion"] = list["cniVersion"]
            object["prevResult"] = previous
            if case .object(let declared)? = object["capabilities"], case .object(let arguments)? = capabilities {
                let granted = arguments.filter { declared[$0.key] == .bool(true) }
                if !granted.isEmpty { object["runtimeConfig"] = .object(granted) }
            }
            guard let executable = locate(type) else {
                throw HostError(
                    "\(what): plugin \"\(type)\" not found in \(directories.joined(separator: ":")) (CNI_PATH)", errno: .noSuchFileOrDirectory)
            }
            let environment = [
                "CNI_COMMAND=DEL", "CNI_CONTAINERID=\(attachment.containerID)", "CNI_NETNS=\(attachment.netns)", "CNI_IFNAME=\(attachment.ifName)",
                "CNI_ARGS=\(attachment.arguments.joined(separator: ";"))", "CNI_PATH=\(directories.joined(separator: ":"))",
                "PATH=\(Self.searchPath)",
            ]
            let result = try PluginProcess.run(executable, environment: environment, input: JSONValue.object(object).compactText)
            guard result.status == 0 else { throw HostError("\(what): plugin \(type) failed: \(Self.message(result))") }
        }
        // Removed whether or not DEL had the namespace: the cache entry stays until they are gone,
        // so a failure here is retried by the next delete, whose DEL finds nothing left to do.
        if plugins.contains(where: { $0["ipMasq"] == .bool(true) }) {
            do {
                try masquerade.remove(network: attachment.networkName, containerID: attachment.containerID)
            } catch {
                throw HostError("\(what): removing the masquerade rules the plugins left failed: \(error.message)", errno: error.errno)
            }
        }
        if unlink(attachment.cachePath) != 0 && errno != ENOENT {
            throw SystemError.hostError("\(attachment.cachePath): remove failed", errno)
        }
        FaultInjection.step("CNI DEL of \(attachment.cachePath)")
    }

    /// The plugins' PATH: kuke's own, as libcni hands a runtime's environment to its plugins, so
    /// the bridge plugin's DEL finds the `iptables` (nft or legacy) that its ADD used on this host.
    static var searchPath: String {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        return path.isEmpty ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" : path
    }

    /// The first executable file named `type` in the plugin directories.
    func locate(_ type: String) -> String? {
        guard !type.contains("/") else { return nil }
        return directories.map { "\($0)/\(type)" }.first { access($0, X_OK) == 0 }
    }

    /// The plugin's error object (`msg`, `details`), or what it wrote to stderr.
    static func message(_ result: PluginProcess.Result) -> String {
        if let error = try? JSONParser.parse(result.output), let text = error["msg"]?.stringValue {
            return text + (error["details"]?.stringValue.map { ": \($0)" } ?? "")
        }
        let errors = result.errors.split(separator: "\n").first.map(String.init) ?? ""
        return errors.isEmpty ? "exit \(result.status)" : "exit \(result.status): \(errors)"
    }
}
