import Foundation
import KukeModel

/// Everything a pass knows about the host: the records on disk, one network dump and
/// the cgroup root's state, taken once and updated in memory as the pass goes on,
/// so later resources of a batch see what earlier ones claimed.
public struct Inventory: Sendable {
    public var realms: [String: RealmRecord] = [:]
    public private(set) var spaces: [SpaceID: SpaceRecord] = [:]
    /// Which space records each conflist path and bridge name: kept with `spaces` so ownership
    /// checks cost the same for the thousandth space as for the first.
    private var conflistOwners: [String: SpaceID] = [:]
    /// Every space that records a bridge name or a subnet: more than one is a conflict, which the
    /// space created first wins (see `bridgeOwner` and `subnetOwner`).
    private var bridgeHolders: [String: Set<SpaceID>] = [:]
    private var subnetHolders: [IPv4Subnet: Set<SpaceID>] = [:]
    /// The holders of subnets that are not /24s, apart, so an allocation need not look through all.
    private var oddSubnetHolders: [IPv4Subnet: Set<SpaceID>] = [:]
    /// Every space that records an IPv6 network (dual-stack), by network.
    private var ipv6Holders: [IPv6Subnet: Set<SpaceID>] = [:]
    /// The spaces of each realm by `ResourceName.conflictKey` of their name.
    private var spacesByConflictKey: [SpaceID: Set<SpaceID>] = [:]
    /// Raw text of each record, for diffs.
    public var recordTexts: [String: String] = [:]
    /// Record directories a dry run has deleted (they are still on disk): what a realm's delete
    /// then finds in its directory is predicted as the real run would find it.
    public var deletedInDryRun: Set<String> = []
    /// Records that exist but could not be read, by path.
    public var unreadable: [String: RecordError] = [:]
    public var network = NetworkSnapshot()
    /// Why the cgroup root is unusable, if it is.
    public var cgroupRootProblem: String?
    /// The controllers the cgroup root delegates to its children (its `cgroup.subtree_control`);
    /// kuke passes these down and never writes the root itself.
    public var offeredControllers: [String] = []
    /// The controllers the cgroup root has at all (its `cgroup.controllers`): one missing here is
    /// not in the cgroup2 hierarchy (on a hybrid host, bound to cgroup v1).
    public var availableControllers: [String] = []
    /// This boot's ID, against which a record's `status.bootId` tells a `Ready` from before a
    /// reboot; read by `Engine.inventory()` for the commands that show state (a pass has its own,
    /// `PassContext.bootID`).
    public var bootID: String?

    public init() {}

    /// Records (or, with nil, forgets) a space, keeping the ownership indexes in step.
    public mutating func set(_ id: SpaceID, _ record: SpaceRecord?) {
        if let old = spaces[id]?.status.network {
            if conflistOwners[old.conflistPath] == id { conflistOwners[old.conflistPath] = nil }
            Self.remove(id, from: &bridgeHolders, at: old.bridge)
            Self.remove(id, from: &subnetHolders, at: old.subnet)
            if old.subnet.prefixLength != SubnetAllocator.spacePrefixLength { Self.remove(id, from: &oddSubnetHolders, at: old.subnet) }
            if let ipv6 = old.ipv6Subnet { Self.remove(id, from: &ipv6Holders, at: ipv6) }
        }
        let key = SpaceID(realm: id.realm, name: ResourceName.conflictKey(id.name))
        if record == nil {
            Self.remove(id, from: &spacesByConflictKey, at: key)
        } else {
            spacesByConflictKey[key, default: []].insert(id)
        }
        spaces[id] = record
        if let network = record?.status.network {
            conflistOwners[network.conflistPath] = id
            bridgeHolders[network.bridge, default: []].insert(id)
            subnetHolders[network.subnet, default: []].insert(id)
            if network.subnet.prefixLength != SubnetAllocator.spacePrefixLength { oddSubnetHolders[network.subnet, default: []].insert(id) }
            if let ipv6 = network.ipv6Subnet { ipv6Holders[ipv6, default: []].insert(id) }
        }
    }

    private static func remove<Key>(_ id: SpaceID, from holders: inout [Key: Set<SpaceID>], at key: Key) {
        holders[key]?.remove(id)
        if holders[key]?.isEmpty == true { holders[key] = nil }
    }

    /// Of the spaces recording one bridge or subnet, the one created first (then by name): it
    /// keeps the bridge or subnet, the others fail with a conflict.
    private func first(of holders: Set<SpaceID>?) -> SpaceID? {
        guard let holders, holders.count > 1 else { return holders?.first }
        return holders.min { a, b in
            let (createdA, createdB) = (spaces[a]?.status.createdAt ?? .distantFuture, spaces[b]?.status.createdAt ?? .distantFuture)
            return createdA != createdB ? createdA < createdB : a < b
        }
    }

    /// The space that records `path` as its conflist, if any.
    public func conflistOwner(_ path: String) -> SpaceID? { conflistOwners[path] }

    /// The `kuke-*` bridges of the host that no record names, sorted: the table's `kuke-*` rules
    /// keep them closed, and the operator is told (apply, watch, doctor).
    public var unrecordedBridges: [String] {
        network.links.values.filter { $0.kind == .bridge && $0.name.hasPrefix(BridgeName.prefix) && bridgeOwner($0.name) == nil }.map(\.name)
            .sorted()
    }

    /// One warning for each of `unrecordedBridges`, with what to do: the table's `kuke-*` rules
    /// isolate it and deny its egress (its cells still reach each other).
    public var unrecordedBridgeWarnings: [String] {
        unrecordedBridges.map { name in
            "bridge \(name) is a kuke bridge no space record describes: its traffic to other kuke bridges and out of the host is dropped (within it, cells still talk); restore its space's record and apply, or delete the bridge (ip link delete \(name))"
        }
    }

    /// Takes the links `changes` deleted out of the network snapshot, so the rest of the pass
    /// (the isolation table's unrecorded bridges) sees the host as it is now.
    public mutating func forgetDeletedLinks(_ changes: [Change]) {
        for change in changes {
            if case .deleteLink(let name) = change.operation { network.links[name] = nil }
        }
    }

    /// The space that owns the bridge `name`: the one that records it, or the first created of
    /// those that do.
    public func bridgeOwner(_ name: String) -> SpaceID? { first(of: bridgeHolders[name]) }

    /// A recorded space of the same realm whose name differs from `id`'s only in case.
    public func caseTwin(of id: SpaceID) -> SpaceID? {
        spacesByConflictKey[SpaceID(realm: id.realm, name: ResourceName.conflictKey(id.name))]?.filter { $0 != id }.min()
    }

    /// A recorded realm whose name differs from `name` only in case.
    public func caseTwin(ofRealm name: String) -> String? {
        let key = ResourceName.conflictKey(name)
        return realms.keys.filter { $0 != name && ResourceName.conflictKey($0) == key }.min()
    }

    /// The space that owns `subnet`: the one that records it, or the first created of those that do.
    public func subnetOwner(_ subnet: IPv4Subnet) -> SpaceID? { first(of: subnetHolders[subnet]) }

    /// Why a recorded space may not use its recorded network: its bridge or its subnet is also
    /// recorded by a space created before it (a hand-edited or restored record). Nil when it owns both.
    public func networkConflict(of id: SpaceID) -> Failure? {
        guard let network = spaces[id]?.status.network else { return nil }
        if let owner = bridgeOwner(network.bridge), owner != id {
            return Failure(
                .bridgeConflict,
                "bridge \"\(network.bridge)\" is also recorded by space \(owner), created earlier; two spaces never share a bridge",
                hint: .regenerateNetwork(.ownBridge(id)))
        }
        if let owner = subnetOwner(network.subnet), owner != id {
            return Failure(
                .subnetConflict,
                "subnet \(network.subnet) is also recorded by space \(owner), created earlier; two spaces never share a range",
                hint: .regenerateNetwork(.ownSubnet(id)))
        }
        return nil
    }

    /// The space that owns the IPv6 network `subnet`: the first created of those that record it.
    public func ipv6Owner(_ subnet: IPv6Subnet) -> SpaceID? { first(of: ipv6Holders[subnet]) }

    /// IPv6 networks recorded by spaces other than `id`, with whether each is held.
    public func isIPv6Taken(_ subnet: IPv6Subnet, except id: SpaceID) -> Bool {
        ipv6Holders.contains { held, holders in held.overlaps(subnet) && holders.contains { $0 != id } }
    }

    /// Whether a space other than `id` records `subnet` (one index lookup).
    public func isSubnetTaken(_ subnet: IPv4Subnet, except id: SpaceID) -> Bool {
        subnetHolders[subnet].map { holders in holders.contains { $0 != id } } ?? false
    }

    /// Subnets other than /24s recorded by spaces other than `id` (none, unless a record was edited by hand).
    public func oddSubnets(except id: SpaceID) -> [IPv4Subnet] {
        oddSubnetHolders.compactMap { subnet, holders in holders.contains { $0 != id } ? subnet : nil }
    }

    /// Subnets recorded by every space but `id`.
    public func takenSubnets(except id: SpaceID) -> Set<IPv4Subnet> {
        Set(spaces.values.filter { $0.id != id }.compactMap { $0.status.network?.subnet })
    }

    /// Host addresses and routes, leaving out those on kuke's own bridges (which carry their space's subnet).
    public var foreignOccupied: [OccupiedSubnet] {
        network.occupied.filter { $0.linkName.map { bridgeHolders[$0] == nil } ?? true }
    }

    /// Of the host's IPv6 addresses and routes, those not on kuke's own bridges.
    public func foreign(_ occupied6: [OccupiedSubnet6]) -> [OccupiedSubnet6] {
        occupied6.filter { $0.linkName.map { bridgeHolders[$0] == nil } ?? true }
    }

    /// The directories the recorded spaces' conflists are in.
    public var conflistDirectories: Set<String> {
        Set(conflistOwners.keys.compactMap { path in path.lastIndex(of: "/").map { String(path[..<$0]) } })
    }

    /// The spaces of one realm, sorted.
    public func spaces(in realm: String) -> [SpaceRecord] {
        spaces.values.filter { $0.spec.realmId == realm }.sorted { $0.id < $1.id }
    }
}

extension Inventory {
    /// A record's text; a record that cannot be read (a link, a FIFO, EACCES) is that resource's
    /// problem, recorded as unreadable, not the whole pass's.
    static func readRecord(_ path: String, files: any FileStore, into inventory: inout Inventory) -> String? {
        do {
            return try files.read(path)
        } catch {
            inventory.unreadable[path] = RecordError(file: path, problems: [.init(error.message)])
            return nil
        }
    }

    /// The subdirectories of a directory of the run path, sorted. One that cannot be listed stops
    /// the pass: the records in it are unknown, and acting without them (a subnet handed out
    /// twice, an isolation table rebuilt without their spaces, "no spaces found") is worse than
    /// doing nothing.
    static func listed(_ path: String, files: any FileStore) throws(HostError) -> [String] {
        do {
            return try files.subdirectories(path).sorted()
        } catch {
            throw HostError(
                "the run path cannot be read (\(error.message)); its records are unknown, so kuke changes nothing", errno: error.errno,
                hint: .fixRunPath)
        }
    }

    /// Reads every record under the run path, dumps the network once and checks the cgroup root.
    public static func load(layout: HostLayout, drivers: HostDrivers, cache: RecordCache? = nil) throws(HostError) -> Inventory {
        var inventory = Inventory()
        let files = drivers.files
        for realm in try listed(layout.runPath, files: files) where ResourceName.violation(of: realm) == nil {
            let realmPath = layout.realmRecordPath(realm)
            if let text = readRecord(realmPath, files: files, into: &inventory) {
                inventory.recordTexts[realmPath] = text
                do {
                    let record = try RecordCodec.decodeRealm(text, file: realmPath)
                    inventory.realms[record.metadata.name] = record
                } catch {
                    inventory.unreadable[realmPath] = error
                }
            }
            for space in try listed(layout.realmDirectory(realm), files: files) {
                let id = SpaceID(realm: realm, name: space)
                let path = layout.spaceRecordPath(id)
                let identity = cache == nil ? nil : files.identity(path)
                let hit = cache?.entry(at: path, identity: identity)
                guard let text = hit?.text ?? readRecord(path, files: files, into: &inventory) else { continue }
                inventory.recordTexts[path] = text
                do {
                    let record: SpaceRecord
                    if let cached = hit?.record ?? cache?.record(at: path, text: text) {
                        record = cached
                        if hit == nil { cache?.store(record, at: path, text: text, identity: identity) }
                    } else {
                        record = try RecordCodec.decodeSpace(text, file: path)
                        cache?.store(record, at: path, text: text, identity: identity)
                    }
                    guard record.id == id else {
                        inventory.unreadable[path] = RecordError(
                            file: path, problems: [.init("it records space \(record.id) but lives in the directory of \(id)")])
                        continue
                    }
                    inventory.set(id, record)
                } catch {
                    inventory.unreadable[path] = error
                }
            }
        }
        cache?.keep(only: Set(inventory.recordTexts.keys))
        inventory.network = try drivers.links.snapshot()
        inventory.cgroupRootProblem = drivers.cgroups.rootProblem()
        if inventory.cgroupRootProblem == nil {
            let root = try drivers.cgroups.observe(layout.cgroupRoot)
            inventory.offeredControllers = root?.subtreeControl ?? []
            inventory.availableControllers = root?.controllers ?? []
            if layout.cgroupDriver == .systemd {
                // systemd enables its controllers at the root when a slice's properties ask for them.
                let enabling = inventory.availableControllers.filter { SystemdControllers.managed.contains($0) }
                inventory.offeredControllers = Array(Set(inventory.offeredControllers + enabling)).sorted()
            }
        }
        return inventory
    }
}
