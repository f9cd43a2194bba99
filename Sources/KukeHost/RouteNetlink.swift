import CKukeSys
import Glibc
import KukeEngine
import KukeModel
import SystemPackage

/// The rtnetlink requests kuke needs, over one `NetlinkSession`.
struct RouteNetlink {
    static let newLink = UInt16(RTM_NEWLINK)
    static let deleteLink = UInt16(RTM_DELLINK)
    static let getLink = UInt16(RTM_GETLINK)
    static let getAddress = UInt16(RTM_GETADDR)
    static let getRoute = UInt16(RTM_GETROUTE)
    static let newAddress = UInt16(RTM_NEWADDR)
    static let newRoute = UInt16(RTM_NEWROUTE)

    static let attributeInterfaceName = UInt16(IFLA_IFNAME)
    static let attributeMaster = UInt16(IFLA_MASTER)
    static let attributeLinkInfo = UInt16(IFLA_LINKINFO)
    static let attributeInfoKind = UInt16(IFLA_INFO_KIND)
    static let attributeAddress = UInt16(IFA_ADDRESS)
    static let attributeLocal = UInt16(IFA_LOCAL)
    static let attributeDestination = UInt16(RTA_DST.rawValue)
    static let attributeOutputInterface = UInt16(RTA_OIF.rawValue)
    static let attributeTable = UInt16(RTA_TABLE.rawValue)
    static let mainTable = UInt32(RT_TABLE_MAIN.rawValue)
    static let unicastRoute = UInt8(RTN_UNICAST)
    static let interfaceUp = UInt32(IFF_UP)
    static let attributeGroup = UInt16(IFLA_GROUP)

    let session: NetlinkSession

    init(transport: any NetlinkTransport) {
        session = NetlinkSession(transport: transport)
    }

    /// `ip link show`: every link with its index, name, kind, up flag and bridge.
    func links() throws(HostError) -> [ObservedLink] {
        let replies = try dump(Self.getLink, what: "link dump") { $0.appendInterfaceInfo() }
        return replies.compactMap { reply in
            guard reply.type == Self.newLink, reply.payload.count >= 16 else { return nil }
            let payload = reply.payload
            let index = Int32(bitPattern: payload.readInteger(at: payload.startIndex + 4, as: UInt32.self))
            let flags = payload.readInteger(at: payload.startIndex + 8, as: UInt32.self)
            let attributes = NetlinkAttributes(payload.dropFirst(16))
            guard let name = attributes.string(Self.attributeInterfaceName) else { return nil }
            let kind = attributes[Self.attributeLinkInfo].flatMap { NetlinkAttributes($0).string(Self.attributeInfoKind) }
            let master = attributes.uint32(Self.attributeMaster).flatMap { $0 == 0 ? nil : Int32(bitPattern: $0) }
            var link = ObservedLink(
                index: index, name: name, kind: kind.map(LinkKind.init(rawValue:)), isUp: flags & Self.interfaceUp != 0, master: master)
            link.group = attributes.uint32(Self.attributeGroup) ?? 0
            link.ipv6 = Self.ipv6Settings(attributes)
            return link
        }
    }

    /// `IFLA_AF_SPEC` → `AF_INET6` → `IFLA_INET6_CONF`, an array of 32-bit values indexed by
    /// `DEVCONF_*`: the link's `net.ipv6.conf` settings, from the dump itself.
    static func ipv6Settings(_ attributes: NetlinkAttributes) -> LinkIPv6? {
        guard let spec = attributes[UInt16(IFLA_AF_SPEC)], let inet6 = NetlinkAttributes(spec)[UInt16(AF_INET6)],
            let conf = NetlinkAttributes(inet6)[UInt16(IFLA_INET6_CONF)]
        else { return nil }
        func value(_ index: Int) -> Int32? {
            let offset = conf.startIndex + index * 4
            guard index >= 0, offset + 4 <= conf.endIndex else { return nil }
            return Int32(bitPattern: conf.readInteger(at: offset, as: UInt32.self))
        }
        guard let disabled = value(Int(DEVCONF_DISABLE_IPV6)), let acceptRA = value(Int(DEVCONF_ACCEPT_RA)),
            let autoconf = value(Int(DEVCONF_AUTOCONF))
        else { return nil }
        return LinkIPv6(disabled: disabled != 0, acceptsRouterAdvertisements: acceptRA != 0, autoconfigures: autoconf != 0)
    }

    /// A dump request of `type` (`NLM_F_DUMP`) with the family header `header` appends, and its replies.
    func dump(_ type: UInt16, what: String, header: @escaping (inout NetlinkMessage) -> Void) throws(HostError) -> [NetlinkReply] {
        try session.dump(
            { sequence in
                var message = NetlinkMessage(type: type, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagDump, sequence: sequence)
                header(&message)
                return message
            }, what: what)
    }

    /// `ip -4 addr show`: (link index, address with prefix).
    func addresses() throws(HostError) -> [(Int32, IPv4Subnet)] {
        let replies = try dump(Self.getAddress, what: "address dump") { $0.appendFamilyHeader(family: UInt8(AF_INET), length: 8) }
        return replies.compactMap { reply in
            guard reply.type == Self.newAddress, reply.payload.count >= 8 else { return nil }
            let payload = reply.payload
            guard payload[payload.startIndex] == UInt8(AF_INET) else { return nil }
            let prefix = Int(payload[payload.startIndex + 1])
            let index = Int32(bitPattern: payload.readInteger(at: payload.startIndex + 4, as: UInt32.self))
            let attributes = NetlinkAttributes(payload.dropFirst(8))
            guard let raw = attributes.ipv4(Self.attributeLocal) ?? attributes.ipv4(Self.attributeAddress), prefix <= 32 else { return nil }
            return (index, IPv4Subnet(containing: IPv4Address(raw), prefixLength: prefix))
        }
    }

    /// `ip -6 addr show`: (link index, address with prefix).
    func addresses6() throws(HostError) -> [(Int32, IPv6Subnet)] {
        let replies = try dump(Self.getAddress, what: "IPv6 address dump") { $0.appendFamilyHeader(family: UInt8(AF_INET6), length: 8) }
        return replies.compactMap { reply in
            guard reply.type == Self.newAddress, reply.payload.count >= 8 else { return nil }
            let payload = reply.payload
            guard payload[payload.startIndex] == UInt8(AF_INET6) else { return nil }
            let prefix = Int(payload[payload.startIndex + 1])
            let index = Int32(bitPattern: payload.readInteger(at: payload.startIndex + 4, as: UInt32.self))
            let attributes = NetlinkAttributes(payload.dropFirst(8))
            guard let raw = attributes.ipv6(Self.attributeAddress) ?? attributes.ipv6(Self.attributeLocal), prefix <= 128 else { return nil }
            return (index, IPv6Subnet(containing: IPv6Address(raw), prefixLength: prefix))
        }
    }

    /// `ip -6 route show table main`: (output link index, destination) of unicast routes.
    func routes6() throws(HostError) -> [(Int32?, IPv6Subnet)] {
        let replies = try dump(Self.getRoute, what: "IPv6 route dump") { $0.appendFamilyHeader(family: UInt8(AF_INET6), length: 12) }
        return replies.compactMap { reply in
            guard reply.type == Self.newRoute, reply.payload.count >= 12 else { return nil }
            let payload = reply.payload
            let start = payload.startIndex
            guard payload[start] == UInt8(AF_INET6), payload[start + 7] == Self.unicastRoute else { return nil }
            let prefix = Int(payload[start + 1])
            let attributes = NetlinkAttributes(payload.dropFirst(12))
            let table = attributes.uint32(Self.attributeTable) ?? UInt32(payload[start + 4])
            guard table == Self.mainTable, prefix > 0, prefix <= 128, let destination = attributes.ipv6(Self.attributeDestination) else { return nil }
            let index = attributes.uint32(Self.attributeOutputInterface).map { Int32(bitPattern: $0) }
            return (index, IPv6Subnet(containing: IPv6Address(destination), prefixLength: prefix))
        }
    }

    /// `ip -4 route show table main`: (output link index, destination) of unicast routes.
    func routes() throws(HostError) -> [(Int32?, IPv4Subnet)] {
        let replies = try dump(Self.getRoute, what: "route dump") { $0.appendFamilyHeader(family: UInt8(AF_INET), length: 12) }
        return replies.compactMap { reply in
            guard reply.type == Self.newRoute, reply.payload.count >= 12 else { return nil }
            let payload = reply.payload
            let start = payload.startIndex
            guard payload[start] == UInt8(AF_INET), payload[start + 7] == Self.unicastRoute else { return nil }
            let prefix = Int(payload[start + 1])
            let attributes = NetlinkAttributes(payload.dropFirst(12))
            let table = attributes.uint32(Self.attributeTable) ?? UInt32(payload[start + 4])
            guard table == Self.mainTable, prefix > 0, prefix <= 32, let destination = attributes.ipv4(Self.attributeDestination) else { return nil }
            let index = attributes.uint32(Self.attributeOutputInterface).map { Int32(bitPattern: $0) }
            return (index, IPv4Subnet(containing: IPv4Address(destination), prefixLength: prefix))
        }
    }

    /// `ip link add NAME type bridge`
    func createBridge(_ name: String) throws(HostError) {
        let sequence = session.nextSequence()
        var message = NetlinkMessage(
            type: Self.newLink,
            flags: NetlinkMessage.flagRequest | NetlinkMessage.flagAck | NetlinkMessage.flagCreate | NetlinkMessage.flagExclusive,
            sequence: sequence)
        message.appendInterfaceInfo()
        message.appendAttribute(type: Self.attributeInterfaceName, string: name)
        message.appendNested(type: Self.attributeLinkInfo) { $0.appendAttribute(type: Self.attributeInfoKind, string: "bridge") }
        try session.request(message, sequence: sequence, what: "bridge \"\(name)\": create failed")
    }

    /// `ip link set NAME up`
    func setUp(_ name: String) throws(HostError) {
        let sequence = session.nextSequence()
        var message = NetlinkMessage(type: Self.newLink, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagAck, sequence: sequence)
        message.appendInterfaceInfo(flags: Self.interfaceUp, change: Self.interfaceUp)
        message.appendAttribute(type: Self.attributeInterfaceName, string: name)
        try session.request(message, sequence: sequence, what: "bridge \"\(name)\": set up failed")
    }

    /// `ip link set dev NAME group GROUP`, by the link's index from the dump (not its name, which
    /// another link could take meanwhile; a name beside the index would rename that link).
    func setGroup(_ link: ObservedLink, _ group: UInt32) throws(HostError) {
        let name = link.name
        let sequence = session.nextSequence()
        var message = NetlinkMessage(type: Self.newLink, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagAck, sequence: sequence)
        message.appendInterfaceInfo(index: link.index)
        message.appendAttribute(type: Self.attributeGroup, payload: withUnsafeBytes(of: group.littleEndian) { Array($0) })
        try session.request(message, sequence: sequence, what: "link \"\(name)\": moving it to group \(group) failed")
    }

    /// `ip link delete group GROUP`: every link of the group, in one request.
    func deleteGroup(_ group: UInt32) throws(HostError) {
        let sequence = session.nextSequence()
        var message = NetlinkMessage(type: Self.deleteLink, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagAck, sequence: sequence)
        message.appendInterfaceInfo()
        message.appendAttribute(type: Self.attributeGroup, payload: withUnsafeBytes(of: group.littleEndian) { Array($0) })
        try session.request(message, sequence: sequence, what: "link group \(group): delete failed")
    }

    /// `ip link delete NAME`
    func delete(_ name: String) throws(HostError) {
        let sequence = session.nextSequence()
        var message = NetlinkMessage(type: Self.deleteLink, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagAck, sequence: sequence)
        message.appendInterfaceInfo()
        message.appendAttribute(type: Self.attributeInterfaceName, string: name)
        try session.request(message, sequence: sequence, what: "link \"\(name)\": delete failed")
    }
}

/// `LinkControl` over rtnetlink; a socket per call keeps the type `Sendable` without locks.
public struct NetlinkLinkControl: LinkControl {
    /// Opens the transport of one call: a new `NetlinkSocket`, or a test's replay.
    let openTransport: @Sendable () throws(HostError) -> any NetlinkTransport
    /// Where the per-link IPv6 sysctls are (`/proc/sys/net/ipv6/conf`); nil for a test's
    /// replay, which has no links.
    let ipv6Sysctl: String?

    public init() {
        self.init(ipv6Sysctl: "/proc/sys/net/ipv6/conf") { () throws(HostError) in try NetlinkSocket() }
    }

    init(ipv6Sysctl: String? = nil, openTransport: @escaping @Sendable () throws(HostError) -> any NetlinkTransport) {
        self.openTransport = openTransport
        self.ipv6Sysctl = ipv6Sysctl
    }

    func session() throws(HostError) -> RouteNetlink { RouteNetlink(transport: try openTransport()) }

    public func snapshot() throws(HostError) -> NetworkSnapshot {
        let netlink = try session()
        let links = try netlink.links()
        let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
        var occupied = try netlink.addresses().map { OccupiedSubnet(subnet: $0.1, linkName: names[$0.0]) }
        occupied += try netlink.routes().map { OccupiedSubnet(subnet: $0.1, linkName: $0.0.flatMap { names[$0] }) }
        return NetworkSnapshot(links: links, occupied: occupied)
    }

    /// IPv6 addresses and routes, dumped only when a dual-stack space gets a network (a pass
    /// without one pays nothing for them).
    public func occupied6() throws(HostError) -> [OccupiedSubnet6] {
        let netlink = try session()
        let names = Dictionary(try netlink.links().map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
        var occupied6 = try netlink.addresses6().map { OccupiedSubnet6(subnet: $0.1, linkName: names[$0.0]) }
        occupied6 += try netlink.routes6().map { OccupiedSubnet6(subnet: $0.1, linkName: $0.0.flatMap { names[$0] }) }
        return occupied6
    }

    public func createBridge(_ name: String) throws(HostError) {
        if let problem = BridgeName.violation(of: name) { throw HostError("bridge \"\(name)\": \(problem)", errno: .outOfRange) }
        try session().createBridge(name)
        FaultInjection.step("create bridge \(name)")
    }

    /// Brings the bridge up with IPv6 off on it (`net.ipv6.conf.<bridge>.disable_ipv6 = 1`,
    /// written before it comes up), as Docker does for IPv4-only networks: an IPv4-only space needs none,
    /// and IPv6 on a link that comes up costs the kernel more the more links the host has
    /// (benchmarks/bridge-ipv6). A kernel without IPv6 has no such file: nothing to turn off.
    public func setUp(_ name: String, ipv6: Bool) throws(HostError) {
        if ipv6 {
            try enableIPv6(name)
        } else if let ipv6Sysctl {
            // Best effort: a speed-up, not part of the space (the isolation table covers IPv6 too). A
            // read-only /proc/sys (a container) leaves IPv6 on; the bridge still comes up.
            try? Self.write("1", to: "disable_ipv6", on: name, sysctl: ipv6Sysctl)
        }
        try session().setUp(name)
        FaultInjection.step("set up \(name)")
    }

    /// A dual-stack space's bridge: nothing taken from router advertisements (`accept_ra`,
    /// `autoconf` 0), written before IPv6 goes on (`disable_ipv6` 0).
    public func enableIPv6(_ name: String) throws(HostError) {
        guard let ipv6Sysctl else { return }
        guard access(ipv6Sysctl, F_OK) == 0 else {
            throw HostError(
                "bridge \"\(name)\": this kernel has no IPv6 (ipv6.disable=1?); a dual-stack space needs it", errno: .addressFamilyNotSupported)
        }
        for (setting, value) in [("accept_ra", "0"), ("autoconf", "0"), ("disable_ipv6", "0")] {
            try Self.write(value, to: setting, on: name, sysctl: ipv6Sysctl)
        }
    }

    /// A space that stopped being dual-stack: IPv6 off on its bridge, its addresses with it.
    public func disableIPv6(_ name: String) throws(HostError) {
        guard let ipv6Sysctl else { return }
        try Self.write("1", to: "disable_ipv6", on: name, sysctl: ipv6Sysctl)
    }

    /// Writes `value` to `net.ipv6.conf.<name>.<setting>`; nothing when the kernel has no IPv6.
    static func write(_ value: String, to setting: String, on name: String, sysctl: String) throws(HostError) {
        let path = "\(sysctl)/\(name)/\(setting)"
        do throws(KernelFile.WriteFailure) { try KernelFile.write(value, to: path) } catch {
            // No IPv6 in this kernel (ipv6.disable=1): nothing to set.
            if error.opening && error.errno == .noSuchFileOrDirectory && access(sysctl, F_OK) != 0 { return }
            throw SystemError.hostError("bridge \"\(name)\": writing \(value) to \(path) failed", error.errno.rawValue)
        }
    }

    public func delete(_ name: String) throws(HostError) {
        do {
            try session().delete(name)
        } catch Errno.operationNotSupportedByDevice {
            return  // already gone: deleting is idempotent
        }
        FaultInjection.step("delete link \(name)")
    }

    /// The links moved into a group no link uses (a random one, checked against a fresh dump),
    /// then the group deleted in one request: the kernel tears them down together, about half
    /// the cost of one by one (benchmarks: docs/performance.md). A crash in between leaves the
    /// links in that group; they are still deleted by name on the next run.
    public func deleteAll(_ names: [String]) throws(HostError) {
        let netlink = try session()
        let links = try netlink.links()
        // Only bridges: what kuke made. Anything else by one of these names is left to the delete by name.
        let bridges = Dictionary(links.filter { $0.kind == .bridge }.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let doomed = names.compactMap { bridges[$0] }
        guard doomed.count > 1 else {
            for link in doomed { try delete(link.name) }
            return
        }
        let used = Set(links.map(\.group))
        var group = UInt32.random(in: 0x1000_0000...0x7FFF_FFFF)
        while used.contains(group) { group = UInt32.random(in: 0x1000_0000...0x7FFF_FFFF) }
        for link in doomed {
            do {
                try netlink.setGroup(link, group)
            } catch Errno.operationNotSupportedByDevice {
                continue  // ENODEV: gone meanwhile, or another link now has the name
            }
            FaultInjection.step("move link \(link.name) to group \(group)")
        }
        try netlink.deleteGroup(group)
        FaultInjection.step("delete link group \(group)")
    }

    public func deletePorts(of bridge: String) throws(HostError) {
        for port in NetworkSnapshot(links: try session().links()).ports(of: bridge) { try delete(port) }
    }
}
