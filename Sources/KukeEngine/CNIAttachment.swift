import Foundation
import KukeModel

/// A container attached to a space's network by a CNI runtime, as the runtime library (libcni)
/// caches it at ADD: `<cni state dir>/results/<network>-<containerID>-<ifName>`, a JSON object
/// of kind `cniCacheV1` with `containerId`, `ifName`, `networkName`, `netns`, `config` (the
/// network configuration list used at ADD, base64), `cniArgs`, `capabilityArgs` and `result`.
/// DEL needs exactly these, so kuke can detach a container the way its runtime would.
///
/// The libcni that Debian's Podman 4.3 and containerd 1.6 vendor writes no `netns`: the path is
/// then only in the result, as the `sandbox` of the container's interface (Podman:
/// `/run/netns/netns-<uuid>`; `ctr run --cni`: `/proc/<pid>/ns/net`, whose PID may be reused).
public struct CNIAttachment: Sendable, Equatable {
    public var cachePath: String
    public var containerID: String
    public var ifName: String
    public var networkName: String
    /// The network namespace path DEL is given: the cached `netns`, else the result's `sandbox`;
    /// empty when there is none, or when it is no longer the container's (see `NamespaceCheck`).
    /// Without it the bridge plugin still releases the address but leaves its masquerade rules.
    public var netns: String
    /// Where `netns` was read from.
    public var netnsSource: NetnsSource
    /// The configuration list used at ADD, when the cache holds it.
    public var config: String?
    /// `CNI_ARGS` pairs, as `KEY=VALUE`.
    public var arguments: [String]
    /// `capabilityArgs` as JSON text (`{}` when none).
    public var capabilities: String
    /// The ADD result, as JSON text, handed to DEL as `prevResult`; nil when not cached.
    public var result: String?

    /// Where a cache entry keeps the container's network namespace path.
    public enum NetnsSource: String, Sendable, Equatable {
        /// libcni's `netns` key (libcni 1.2 and later).
        case netns
        /// `result.interfaces[].sandbox` of the container's interface (Podman 4.3, containerd 1.6).
        case sandbox
        /// Neither: DEL runs without a namespace.
        case none
    }

    public init(
        cachePath: String, containerID: String, ifName: String, networkName: String, netns: String, netnsSource: NetnsSource? = nil,
        config: String? = nil, arguments: [String] = [], capabilities: String = "{}", result: String? = nil
    ) {
        self.cachePath = cachePath
        self.containerID = containerID
        self.ifName = ifName
        self.networkName = networkName
        self.netns = netns
        self.netnsSource = netnsSource ?? (netns.isEmpty ? .none : .netns)
        self.config = config
        self.arguments = arguments
        self.capabilities = capabilities
        self.result = result
    }

    /// Labels naming each of `attachments` unambiguously: a container ID is cut to 12 characters
    /// as runtimes print it, but to a longer prefix (up to all of it) while another ID shares it
    /// (`ctr run --cni` IDs `default-blog1` and `default-blog2` stay whole).
    public static func labels(_ attachments: [CNIAttachment]) -> [String] {
        let ids = Set(attachments.map(\.containerID))
        return attachments.map { attachment in
            let id = attachment.containerID
            var length = min(12, id.count)
            while length < id.count, ids.contains(where: { $0 != id && $0.hasPrefix(id.prefix(length)) }) { length += 1 }
            return "\(id.prefix(length)) (\(attachment.ifName))"
        }
    }

    /// Reads one cache entry; nil when it is not a `cniCacheV1` entry with a container and an interface.
    public static func parse(_ text: String, path: String) -> CNIAttachment? {
        guard let value = try? JSONParser.parse(text), value["kind"]?.stringValue == "cniCacheV1",
            let containerID = value["containerId"]?.stringValue, !containerID.isEmpty, let ifName = value["ifName"]?.stringValue,
            !ifName.isEmpty, let network = value["networkName"]?.stringValue
        else { return nil }
        let config = value["config"]?.stringValue.flatMap { Data(base64Encoded: $0) }.flatMap { String(data: $0, encoding: .utf8) }
        let arguments = (value["cniArgs"]?.arrayValue ?? []).compactMap { pair -> String? in
            guard let items = pair.arrayValue, items.count == 2, let key = items[0].stringValue, let argument = items[1].stringValue else {
                return nil
            }
            return "\(key)=\(argument)"
        }
        let cachedNetns = value["netns"]?.stringValue ?? ""
        let sandbox = Self.sandbox(in: value["result"], ifName: ifName) ?? ""
        let (netns, source): (String, NetnsSource) =
            !cachedNetns.isEmpty ? (cachedNetns, .netns) : !sandbox.isEmpty ? (sandbox, .sandbox) : ("", .none)
        return CNIAttachment(
            cachePath: path, containerID: containerID, ifName: ifName, networkName: network, netns: netns, netnsSource: source,
            config: config, arguments: arguments, capabilities: value["capabilityArgs"]?.compactText ?? "{}", result: value["result"]?.compactText)
    }

    /// The `sandbox` of the result's interface named `ifName` (the container's side), or of the
    /// only interface that has one.
    static func sandbox(in result: JSONValue?, ifName: String) -> String? {
        let interfaces = (result?["interfaces"]?.arrayValue ?? []).filter { !($0["sandbox"]?.stringValue ?? "").isEmpty }
        let named = interfaces.first { $0["name"]?.stringValue == ifName }
        return (named ?? (interfaces.count == 1 ? interfaces[0] : nil))?["sandbox"]?.stringValue
    }

    /// The attachments cached for `network` under `stateDirectory` (`…/results`), by container.
    public static func cached(network: String, stateDirectory: String, files: any FileStore) -> [CNIAttachment] {
        let directory = "\(stateDirectory)/results"
        return files.entries(directory).filter { $0.hasPrefix("\(network)-") }.sorted().compactMap { name in
            let path = "\(directory)/\(name)"
            guard let text = try? files.read(path), let attachment = parse(text, path: path), attachment.networkName == network else { return nil }
            return attachment
        }
    }
}

/// Whether a cached namespace path is still the container's network namespace, as
/// `CNIPlugins.checkNamespace` finds it before DEL.
public enum NamespaceCheck: Sendable, Equatable {
    /// The path is a network namespace, and the container's: DEL gets it.
    case usable
    /// Nothing is at the path any more (the container stopped, the host rebooted).
    case gone
    /// Something is at the path, but not the container's namespace (why, for a warning).
    case foreign(String)
}
