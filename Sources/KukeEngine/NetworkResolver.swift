import KukeModel

/// Decides a space's network values: read back from its record when it has one
/// (never recomputed), otherwise a new bridge name and the first free /24, and
/// refuses names and paths another space or a foreign link already holds.
public struct NetworkResolver: Sendable {
    public var layout: HostLayout
    /// `kuke init --force-regenerate-cni`: replace a recorded bridge name that cannot work.
    public var regenerate: Bool

    public init(layout: HostLayout, regenerate: Bool) {
        self.layout = layout
        self.regenerate = regenerate
    }

    /// A conflist kuke wrote for this space at another path (a `cniConfigPath` change that did
    /// not finish): the same network name, bridge and subnet the record holds.
    static func isOwn(_ text: String, recorded: SpaceNetworkStatus?) -> Bool {
        guard let recorded, let value = try? JSONParser.parse(text), let found = Conflist.recordedValues(in: value) else { return false }
        return found == Conflist(networkName: recorded.name, bridge: recorded.bridge, subnet: recorded.subnet, ipv6Subnet: recorded.ipv6Subnet)
    }

    /// A space whose record was lost: the conflist at its path is exactly the one kuke would
    /// write for it (its network name, the bridge name the manifest gives, byte for byte) and
    /// its subnet is held by no other space, so the space adopts it (and the bridge of that
    /// name, if it exists) instead of refusing it as foreign.
    static func adoptable(_ text: String, id: SpaceID, path: String, inventory: Inventory) -> SpaceNetworkStatus? {
        guard let value = try? JSONParser.parse(text), let found = Conflist.recordedValues(in: value), found.networkName == id.networkName,
            found.bridge == BridgeName.make(for: id), found.text == text, !inventory.takenSubnets(except: id).contains(found.subnet),
            inventory.bridgeOwner(found.bridge) == nil
        else { return nil }
        return SpaceNetworkStatus(
            name: found.networkName, bridge: found.bridge, subnet: found.subnet, ipv6Subnet: found.ipv6Subnet, conflistPath: path)
    }

    /// A conflist kuke once wrote for this space whose record is lost, as `--force-regenerate-cni`
    /// finds it after an upgrade from an old tool: its network name is this space's and its bridge
    /// is a `kuke-` one (perhaps too long for Linux). The space takes it over: the bridge is
    /// replaced by the scheme's name when it cannot be used, and the subnet is kept when no other
    /// space, no other runtime's conflist and nothing on the host holds it (a new one otherwise).
    static func salvaged(_ text: String, id: SpaceID, path: String, inventory: Inventory, foreignClaims: [ForeignClaim])
        -> (bridge: String, subnet: IPv4Subnet?)?
    {
        guard let value = try? JSONParser.parse(text), let found = Conflist.recordedValues(in: value), found.networkName == id.networkName,
            found.bridge.hasPrefix(BridgeName.prefix)
        else { return nil }
        let held =
            inventory.takenSubnets(except: id).contains { $0.overlaps(found.subnet) }
            || foreignClaims.contains { $0.path != path && $0.subnet.overlaps(found.subnet) }
            || inventory.foreignOccupied.contains { $0.subnet.prefixLength > 0 && $0.subnet.overlaps(found.subnet) }
        let bridge = inventory.bridgeOwner(found.bridge) == nil ? found.bridge : BridgeName.make(for: id)
        return (bridge, held ? nil : found.subnet)
    }

    /// - Parameter conflistOnDisk: the text at the desired conflist path, nil when absent.
    /// - Parameter foreignClaims: ranges claimed by network configurations kuke does not own,
    ///   asked for only when a subnet is allocated.
    /// What a dual-stack space needs to get its /64: the pool, the IPv6 ranges other network
    /// configurations claim and the host's IPv6 addresses and routes, each asked for only when a
    /// network is allocated (a space that has one needs none of them).
    public struct IPv6Request {
        public var pool: () throws(Failure) -> IPv6Subnet
        public var foreignClaims: () -> [ForeignClaim6]
        /// The host's IPv6 addresses and routes not on kuke's bridges.
        public var occupied: () throws(Failure) -> [OccupiedSubnet6]

        public init(
            pool: @escaping () throws(Failure) -> IPv6Subnet, foreignClaims: @escaping () -> [ForeignClaim6] = { [] },
            occupied: @escaping () throws(Failure) -> [OccupiedSubnet6] = { [] }
        ) {
            self.pool = pool
            self.foreignClaims = foreignClaims
            self.occupied = occupied
        }
    }

    public func resolve(
        _ id: SpaceID, spec: SpaceSpec, stored: SpaceRecord?, conflistOnDisk: String?, inventory: Inventory,
        foreignClaims: () -> [ForeignClaim] = { [] }, ipv6: IPv6Request? = nil
    ) throws(Failure) -> SpaceNetworkStatus {
        let path = layout.conflistPath(id, cniConfigPath: spec.cniConfigPath)
        if let owner = inventory.conflistOwner(path), owner != id {
            throw Failure(
                .conflistConflict,
                "conflist \(path) belongs to space \(owner); both map to the network name \"\(id.networkName)\" (and so to one bridge name); rename one of the spaces"
            )
        }
        var recorded = stored?.status.network
        var recordedBridge = recorded?.bridge
        var recordedSubnet = recorded?.subnet
        if stored == nil, let text = conflistOnDisk, let adopted = Self.adoptable(text, id: id, path: path, inventory: inventory) {
            recorded = adopted
            (recordedBridge, recordedSubnet) = (adopted.bridge, adopted.subnet)
        } else if stored == nil, regenerate, let text = conflistOnDisk,
            let salvaged = Self.salvaged(text, id: id, path: path, inventory: inventory, foreignClaims: foreignClaims())
        {
            (recordedBridge, recordedSubnet) = (salvaged.bridge, salvaged.subnet)
        }
        if let text = conflistOnDisk, recorded?.conflistPath != path, recordedBridge == nil || stored != nil, !Self.isOwn(text, recorded: recorded) {
            throw Failure(
                .conflistConflict,
                "\(path) exists and no space records it; kuke does not overwrite a conflist it did not write", hint: .takeOverConflist)
        }
        var bridge = recordedBridge ?? BridgeName.make(for: id)
        var renamed = false
        if let problem = BridgeName.violation(of: bridge) {
            guard regenerate else {
                throw Failure(
                    .bridgeNameInvalid,
                    "recorded bridge name \"\(bridge)\" \(problem)", hint: .regenerateNetwork(.validName(who: "the space")))
            }
            bridge = Self.freshBridge(for: id, inventory: inventory)
            renamed = true
        }
        if let owner = inventory.bridgeOwner(bridge), owner != id {
            guard stored != nil, regenerate else {
                throw inventory.networkConflict(of: id) ?? Failure(.bridgeConflict, "bridge name \"\(bridge)\" belongs to space \(owner)")
            }
            bridge = Self.freshBridge(for: id, inventory: inventory)
            renamed = true
        }
        if let link = inventory.network.links[bridge] {
            if link.kind != .bridge {
                throw Failure(
                    .bridgeConflict,
                    "link \"\(bridge)\" exists and is \(link.kind.map { "a \($0) link" } ?? "not a bridge"); kuke will not replace it")
            }
            // A bridge kuke did not record is not taken over, except when a stale record is being
            // repaired and the bridge already carries the name the space is given.
            if recordedBridge != bridge && !renamed {
                throw Failure(
                    .bridgeConflict, "a bridge named \"\(bridge)\" exists and no space records it; kuke does not take over links it did not create")
            }
        }
        var subnet: IPv4Subnet? = recordedSubnet
        if let recordedSubnet = subnet, stored != nil, let owner = inventory.subnetOwner(recordedSubnet), owner != id {
            guard regenerate else {
                throw inventory.networkConflict(of: id) ?? Failure(.subnetConflict, "subnet \(recordedSubnet) belongs to space \(owner)")
            }
            subnet = nil
        }
        let chosen: IPv4Subnet
        if let subnet {
            chosen = subnet
        } else {
            chosen = try allocate(id, inventory: inventory, foreignClaims: foreignClaims)
        }
        var chosen6: IPv6Subnet?
        if let ipv6 {
            if let recorded6 = recorded?.ipv6Subnet, inventory.ipv6Owner(recorded6).map({ $0 == id }) ?? true {
                chosen6 = recorded6
            } else if let recorded6 = recorded?.ipv6Subnet, stored != nil, !regenerate {
                throw Failure(
                    .subnetConflict,
                    "IPv6 network \(recorded6) is also recorded by space \(inventory.ipv6Owner(recorded6)!), created earlier; two spaces never share a range",
                    hint: .regenerateNetwork(.ownIPv6Network(id)))
            } else {
                chosen6 = try allocate6(id, request: ipv6, inventory: inventory)
            }
        }
        return SpaceNetworkStatus(name: id.networkName, bridge: bridge, subnet: chosen, ipv6Subnet: chosen6, conflistPath: path)
    }

    /// The first /64 of the IPv6 pool that no space records, no other network configuration
    /// claims and no address or route of the host uses.
    func allocate6(_ id: SpaceID, request: IPv6Request, inventory: Inventory) throws(Failure) -> IPv6Subnet {
        if let unreadable = inventory.unreadable.keys.sorted().first(where: { $0.hasSuffix("/space.yaml") }) {
            throw Failure(
                .recordUnreadable, "cannot choose an IPv6 network while \(unreadable) is unreadable (its network is unknown); fix or remove it")
        }
        let pool = try request.pool()
        let claims = request.foreignClaims()
        let blockers = claims.map(\.subnet) + (try request.occupied()).map(\.subnet).filter { $0.prefixLength > 0 }
        if let free = IPv6Pool.firstFree(in: pool, isTaken: { inventory.isIPv6Taken($0, except: id) }, blockers: blockers) { return free }
        let claimed = claims.filter { $0.subnet.overlaps(pool) }.map { "\($0.path) (\($0.subnet))" }
        throw Failure(
            .subnetPoolExhausted,
            "no free /64 in IPv6 pool \(pool)\(claimed.isEmpty ? "" : ": claimed by " + Self.listed(claimed)); choose another with ipv6Pool in the host configuration, or delete a space"
        )
    }

    /// A bridge name for a space that must leave the one it records: the scheme's name unless
    /// another space records it, otherwise the short form salted until no other space does.
    static func freshBridge(for id: SpaceID, inventory: Inventory) -> String {
        var attempt = 0
        while let owner = inventory.bridgeOwner(BridgeName.make(for: id, attempt: attempt)), owner != id { attempt += 1 }
        return BridgeName.make(for: id, attempt: attempt)
    }

    /// The first /24 of the pool that no space records and nothing on the host uses: not an
    /// address or route, not a range another network configuration claims.
    func allocate(_ id: SpaceID, inventory: Inventory, foreignClaims: () -> [ForeignClaim]) throws(Failure) -> IPv4Subnet {
        if let unreadable = inventory.unreadable.keys.sorted().first(where: { $0.hasSuffix("/space.yaml") }) {
            throw Failure(.recordUnreadable, "cannot choose a subnet while \(unreadable) is unreadable (its subnet is unknown); fix or remove it")
        }
        let allocator = SubnetAllocator(pool: layout.subnetPool)
        let claims = foreignClaims()
        let occupied = inventory.foreignOccupied
        let blockers = (occupied.map(\.subnet) + claims.map(\.subnet)).filter { $0.prefixLength > 0 } + inventory.oddSubnets(except: id)
        if let free = allocator.firstFree(isTaken: { inventory.isSubnetTaken($0, except: id) }, blockers: blockers) { return free }
        let taken = inventory.takenSubnets(except: id)
        let pool = layout.subnetPool
        var holders: [String] = []
        let spaces = taken.filter { $0.overlaps(pool) }.count
        if spaces > 0 { holders.append("\(spaces) held by spaces") }
        let claimed = claims.filter { $0.subnet.overlaps(pool) }
        if !claimed.isEmpty {
            holders.append("claimed by " + Self.listed(claimed.map { "\($0.path) (\($0.subnet))" }))
        }
        let used = occupied.filter { $0.subnet.overlaps(pool) && $0.subnet.prefixLength > 0 }
        if !used.isEmpty {
            holders.append("used on the host by " + Self.listed(used.map { "\($0.subnet)\($0.linkName.map { " dev \($0)" } ?? "")" }))
        }
        throw Failure(
            .subnetPoolExhausted,
            "no free /24 in subnet pool \(pool): \(holders.joined(separator: "; "))", hint: .anotherSubnetPool)
    }

    /// `a, b, c and 4 more`.
    static func listed(_ items: [String], limit: Int = 3) -> String {
        items.count <= limit ? items.joined(separator: ", ") : items.prefix(limit).joined(separator: ", ") + " and \(items.count - limit) more"
    }
}
