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
        return found == Conflist(networkName: recorded.name, bridge: recorded.bridge, subnet: recorded.subnet)
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
        return SpaceNetworkStatus(name: found.networkName, bridge: found.bridge, subnet: found.subnet, conflistPath: path)
    }

    /// - Parameter conflistOnDisk: the text at the desired conflist path, nil when absent.
    public func resolve(_ id: SpaceID, spec: SpaceSpec, stored: SpaceRecord?, conflistOnDisk: String?, inventory: Inventory) throws(Failure)
        -> SpaceNetworkStatus
    {
        let path = layout.conflistPath(id, cniConfigPath: spec.cniConfigPath)
        if let owner = inventory.conflistOwner(path), owner != id {
            throw Failure(
                "ConflistConflict",
                "conflist \(path) belongs to space \(owner); both map to the network name \"\(id.networkName)\" (and so to one bridge name); rename one of the spaces"
            )
        }
        var recorded = stored?.status.network
        if stored == nil, let text = conflistOnDisk, let adopted = Self.adoptable(text, id: id, path: path, inventory: inventory) {
            recorded = adopted
        }
        if let text = conflistOnDisk, recorded?.conflistPath != path, !Self.isOwn(text, recorded: recorded) {
            throw Failure(
                "ConflistConflict",
                "\(path) exists and no space records it; kuke does not overwrite a conflist it did not write (move it away to let kuke create it)")
        }
        var bridge = recorded?.bridge ?? BridgeName.make(for: id)
        var renamed = false
        if let problem = BridgeName.violation(of: bridge) {
            guard regenerate else {
                throw Failure(
                    "BridgeNameInvalid",
                    "recorded bridge name \"\(bridge)\" \(problem); run `kuke init --force-regenerate-cni` to give the space a valid name")
            }
            bridge = BridgeName.make(for: id)
            renamed = true
        }
        if let owner = inventory.bridgeOwner(bridge), owner != id {
            throw Failure("BridgeConflict", "bridge name \"\(bridge)\" belongs to space \(owner)")
        }
        if let link = inventory.network.links[bridge] {
            if link.kind != "bridge" {
                throw Failure(
                    "BridgeConflict",
                    "link \"\(bridge)\" exists and is \(link.kind.map { "a \($0) link" } ?? "not a bridge"); kuke will not replace it")
            }
            // A bridge kuke did not record is not taken over, except when a stale record is being
            // repaired and the bridge already carries the name the space is given.
            if recorded?.bridge != bridge && !renamed {
                throw Failure(
                    "BridgeConflict", "a bridge named \"\(bridge)\" exists and no space records it; kuke does not take over links it did not create")
            }
        }
        let subnet: IPv4Subnet
        if let recordedSubnet = recorded?.subnet {
            subnet = recordedSubnet
        } else {
            if let unreadable = inventory.unreadable.keys.sorted().first(where: { $0.hasSuffix("/space.yaml") }) {
                throw Failure(
                    "RecordUnreadable", "cannot choose a subnet while \(unreadable) is unreadable (its subnet is unknown); fix or remove it")
            }
            let allocator = SubnetAllocator(pool: layout.subnetPool)
            let taken = inventory.takenSubnets(except: id)
            guard let free = allocator.firstFree(taken: taken, occupied: inventory.foreignOccupied) else {
                throw Failure(
                    "SubnetPoolExhausted",
                    "no free /24 in subnet pool \(layout.subnetPool): \(taken.count) held by spaces, the rest blocked by host addresses or routes; widen --subnet-pool or delete a space"
                )
            }
            subnet = free
        }
        return SpaceNetworkStatus(name: id.networkName, bridge: bridge, subnet: subnet, conflistPath: path)
    }
}
