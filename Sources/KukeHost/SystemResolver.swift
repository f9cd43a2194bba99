import Glibc
import KukeEngine
import KukeModel

/// `NameResolver` through `getaddrinfo(3)` with `AF_INET`: the host's own resolver
/// configuration (`/etc/hosts`, DNS, as `/etc/nsswitch.conf` says), `AF_INET6` for the IPv6
/// addresses of dual-stack spaces' hosts; and the host's
/// resolvers read from `resolvConf` (and systemd-resolved's `resolvedConf`).
public struct SystemResolver: NameResolver {
    public var resolvConf: String
    public var resolvedConf: String

    public init(resolvConf: String = "/etc/resolv.conf", resolvedConf: String = "/run/systemd/resolve/resolv.conf") {
        self.resolvConf = resolvConf
        self.resolvedConf = resolvedConf
    }

    public func nameservers() throws(HostError) -> HostNameservers {
        guard let text = ProcFile.read(resolvConf) else {
            throw HostError("the host's resolvers: \(resolvConf) could not be read")
        }
        let upstream = resolvedConf
        return try HostNameservers.read(resolvConf: (resolvConf, text)) { (upstream, ProcFile.read(upstream)) }
    }

    public func resolveIPv6(_ host: String) throws(HostError) -> [IPv6Address] {
        var hints = addrinfo()
        hints.ai_family = AF_INET6
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else {
            throw HostError(
                "egress host \"\(host)\" did not resolve (IPv6): \(String(cString: gai_strerror(status)))",
                errno: status == EAI_AGAIN ? .resourceTemporarilyUnavailable : nil)
        }
        defer { freeaddrinfo(list) }
        var addresses: [IPv6Address] = []
        var entry = list
        while let current = entry {
            if current.pointee.ai_family == AF_INET6, let socketAddress = current.pointee.ai_addr {
                let bytes = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                }
                addresses.append(IPv6Address(bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }))
            }
            entry = current.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw HostError("egress host \"\(host)\" resolved to no IPv6 addresses") }
        return Array(Set(addresses)).sorted()
    }

    public func resolveIPv4(_ host: String) throws(HostError) -> [IPv4Address] {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else {
            let reason = String(cString: gai_strerror(status))
            throw HostError("egress host \"\(host)\" did not resolve: \(reason)", errno: status == EAI_AGAIN ? .resourceTemporarilyUnavailable : nil)
        }
        defer { freeaddrinfo(list) }
        var addresses: [IPv4Address] = []
        var entry = list
        while let current = entry {
            if current.pointee.ai_family == AF_INET, let socketAddress = current.pointee.ai_addr {
                let address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                addresses.append(IPv4Address(UInt32(bigEndian: address)))
            }
            entry = current.pointee.ai_next
        }
        // No socket type asked for: one entry per type comes back, made unique here.
        guard !addresses.isEmpty else { throw HostError("egress host \"\(host)\" resolved to no IPv4 addresses") }
        return Array(Set(addresses)).sorted()
    }
}
