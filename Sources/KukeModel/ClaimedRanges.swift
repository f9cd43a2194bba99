/// The IPv4 ranges a CNI network configuration claims for its IPAM: every plugin's
/// `ipam.ranges[*][*].subnet` and `ipam.subnet` (host-local), and the network of each
/// `ipam.addresses[*].address` (static: `10.88.5.7/24` claims 10.88.5.0/24), in a conflist's
/// `plugins` or a single `.conf` whose top level is the plugin. Another runtime's network
/// (Podman's `87-podman-bridge.conflist` claims 10.88.0.0/16) hands out or pins addresses in
/// these, so kuke never allocates a space inside one.
public enum ClaimedRanges {
    /// The file names libcni loads from a CNI directory.
    public static func isNetworkConfiguration(_ name: String) -> Bool {
        !name.hasPrefix(".") && (name.hasSuffix(".conflist") || name.hasSuffix(".conf") || name.hasSuffix(".json"))
    }

    /// The IPv4 subnets claimed by `configuration`; IPv6 ranges and malformed entries are left out.
    public static func subnets(in configuration: JSONValue) -> [IPv4Subnet] {
        let plugins = configuration["plugins"]?.arrayValue ?? [configuration]
        var found: [IPv4Subnet] = []
        for plugin in plugins {
            guard let ipam = plugin["ipam"] else { continue }
            if let subnet = ipam["subnet"]?.stringValue.flatMap(parse) { found.append(subnet) }
            for set in ipam["ranges"]?.arrayValue ?? [] {
                for range in set.arrayValue ?? [] {
                    if let subnet = range["subnet"]?.stringValue.flatMap(parse) { found.append(subnet) }
                }
            }
            for address in ipam["addresses"]?.arrayValue ?? [] {
                if let subnet = address["address"]?.stringValue.flatMap(parse) { found.append(subnet) }
            }
        }
        return found
    }

    /// The IPv6 networks claimed by `configuration`, read as `subnets(in:)` reads the IPv4 ones.
    public static func subnets6(in configuration: JSONValue) -> [IPv6Subnet] {
        let plugins = configuration["plugins"]?.arrayValue ?? [configuration]
        var found: [IPv6Subnet] = []
        for plugin in plugins {
            guard let ipam = plugin["ipam"] else { continue }
            var texts = [ipam["subnet"]?.stringValue].compactMap { $0 }
            for set in ipam["ranges"]?.arrayValue ?? [] { texts += (set.arrayValue ?? []).compactMap { $0["subnet"]?.stringValue } }
            texts += (ipam["addresses"]?.arrayValue ?? []).compactMap { $0["address"]?.stringValue }
            found += texts.compactMap { IPv6Subnet($0, hostBits: true) }
        }
        return found
    }

    /// `10.88.0.0/16`, and `10.88.0.1/16` as the network it is in (the plugins accept host bits).
    static func parse(_ text: String) -> IPv4Subnet? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(String(parts[0])), parts[1].allSatisfy(\.isASCII), let length = Int(parts[1]),
            (0...32).contains(length)
        else { return nil }
        return IPv4Subnet(containing: address, prefixLength: length)
    }
}
