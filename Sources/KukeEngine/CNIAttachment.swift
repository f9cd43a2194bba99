import Foundation
import KukeModel

/// A container attached to a space's network by a CNI runtime, as the runtime library (libcni)
/// caches it at ADD: `<cni state dir>/results/<network>-<containerID>-<ifName>`, a JSON object
/// of kind `cniCacheV1` with `containerId`, `ifName`, `networkName`, `netns`, `config` (the
/// network configuration list used at ADD, base64), `cniArgs`, `capabilityArgs` and `result`.
/// DEL needs exactly these, so kuke can detach a container the way its runtime would.
public struct CNIAttachment: Sendable, Equatable {
    public var cachePath: String
    public var containerID: String
    public var ifName: String
    public var networkName: String
    /// The container's network namespace path (may be gone: DEL then still releases its address).
    public var netns: String
    /// The configuration list used at ADD, when the cache holds it.
    public var config: String?
    /// `CNI_ARGS` pairs, as `KEY=VALUE`.
    public var arguments: [String]
    /// `capabilityArgs` as JSON text (`{}` when none).
    public var capabilities: String
    /// The ADD result, as JSON text, handed to DEL as `prevResult`; nil when not cached.
    public var result: String?

    public init(
        cachePath: String, containerID: String, ifName: String, networkName: String, netns: String, config: String? = nil,
        arguments: [String] = [], capabilities: String = "{}", result: String? = nil
    ) {
        self.cachePath = cachePath
        self.containerID = containerID
        self.ifName = ifName
        self.networkName = networkName
        self.netns = netns
        self.config = config
        self.arguments = arguments
        self.capabilities = capabilities
        self.result = result
    }

    /// `3f2a9c1b4d5e (eth0)`: the container ID shortened as runtimes print it.
    public var label: String { "\(containerID.prefix(12)) (\(ifName))" }

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
        return CNIAttachment(
            cachePath: path, containerID: containerID, ifName: ifName, networkName: network, netns: value["netns"]?.stringValue ?? "",
            config: config, arguments: arguments, capabilities: value["capabilityArgs"]?.compactText ?? "{}", result: value["result"]?.compactText)
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
