import KukeModel

/// The host's resolvers as a cell can reach them, for `dns: allow`: the `nameserver` lines of
/// `/etc/resolv.conf`, and, when it lists systemd-resolved's stub (`127.0.0.53` or
/// `127.0.0.54`, on the host's loopback, which no cell reaches), the upstream servers
/// systemd-resolved writes to `/run/systemd/resolve/resolv.conf`, as Podman and Docker do for
/// their containers' resolv.conf. Other loopback servers (a dnsmasq on `127.0.0.1`) and IPv6
/// servers are left out, each with a note; none left is an error.
public struct HostNameservers: Sendable, Equatable {
    /// The servers, in the order listed, without duplicates.
    public var addresses: [IPv4Address]
    /// The file they were read from.
    public var source: String
    /// Servers listed but left out, and why.
    public var skipped: [String]

    public init(addresses: [IPv4Address], source: String, skipped: [String] = []) {
        self.addresses = addresses
        self.source = source
        self.skipped = skipped
    }

    /// systemd-resolved's stub listeners.
    static let stubs: Set<String> = ["127.0.0.53", "127.0.0.54"]

    /// The `nameserver` entries of a resolv.conf, in order (comments and other options skipped).
    public static func listed(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { return nil }
            return String(words[1])
        }
    }

    /// The servers of `resolvConf` (its path and text); `upstream` reads systemd-resolved's
    /// upstream file (path and text, nil when it cannot be read) and is asked only when the
    /// stub is listed.
    public static func read(
        resolvConf: (path: String, text: String), upstream: () -> (path: String, text: String?)
    ) throws(HostError) -> HostNameservers {
        var addresses: [IPv4Address] = []
        var skipped: [String] = []
        var source = resolvConf.path
        func take(_ entry: String, from path: String) {
            guard let address = IPv4Address(entry) else {
                skipped.append("\(entry) in \(path) (\(entry.contains(":") ? "IPv6: dns: allow opens the IPv4 resolvers" : "not an address"))")
                return
            }
            if address.value >> 24 == 127 || address.value == 0 {
                skipped.append("\(entry) in \(path) (the host's own loopback: a cell cannot reach it)")
            } else if !addresses.contains(address) {
                addresses.append(address)
            }
        }
        let listed = listed(resolvConf.text)
        if listed.contains(where: stubs.contains) {
            let resolved = upstream()
            source = "\(resolvConf.path) (systemd-resolved's stub) and \(resolved.path)"
            if let text = resolved.text {
                for entry in Self.listed(text) where !stubs.contains(entry) { take(entry, from: resolved.path) }
            } else {
                skipped.append("systemd-resolved's upstream servers (\(resolved.path) could not be read)")
            }
        }
        for entry in listed where !stubs.contains(entry) { take(entry, from: resolvConf.path) }
        guard !addresses.isEmpty else {
            let why = skipped.isEmpty ? "it lists no nameserver" : "left out: " + skipped.joined(separator: "; ")
            throw HostError("no nameserver a cell can reach in \(source): \(why)")
        }
        return HostNameservers(addresses: addresses, source: source, skipped: skipped)
    }
}
