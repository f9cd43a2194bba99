import KukeModel

/// The space's network configuration list: the file at its path in the CNI directory, its copy
/// beside the record, and (on delete) host-local's leases of its network.
struct ConflistPart: SpacePart {
    var part: Part { .conflist }
    var phase: Int { 200 }

    func plan(_ space: DesiredSpace, status: inout SpaceStatus, context: PassContext) throws(Failure) -> PartPlan {
        let id = space.id
        let network = space.network
        let stored = space.stored?.status.network
        var previousPath: String?
        if let recordedPath = stored?.conflistPath, recordedPath != network.conflistPath, try context.readConflist(recordedPath) != nil {
            previousPath = recordedPath
        }
        let conflist = Conflist(networkName: network.name, bridge: network.bridge, subnet: network.subnet, ipv6Subnet: network.ipv6Subnet)
        let observed = ConflistPlanner.Observed(
            primary: space.conflistOnDisk, copy: try context.readConflist(context.layout.conflistCopyPath(id)), previousPath: previousPath)
        var changes = ConflistPlanner.plan(
            desired: conflist, path: network.conflistPath, copyPath: context.layout.conflistCopyPath(id), observed: observed,
            rewrite: space.regenerate)
        if let old = stored {
            // A repair (`--force-regenerate-cni`) that moved the space off a name or range it may not use says so.
            var moves: [String] = []
            if old.bridge != network.bridge { moves.append("bridge \(old.bridge) -> \(network.bridge)") }
            if old.subnet != network.subnet { moves.append("subnet \(old.subnet) -> \(network.subnet)") }
            if let before = old.ipv6Subnet, let after = network.ipv6Subnet, before != after { moves.append("IPv6 network \(before) -> \(after)") }
            if !moves.isEmpty, !changes.isEmpty { changes[0].summary += " (\(moves.joined(separator: ", ")))" }
        }
        let leftovers = LeftoverPlanner.plan(
            Array(Set([network.conflistPath] + (stored.map { [$0.conflistPath] } ?? []))).sorted(), part: .conflist, files: context.drivers.files)
        return PartPlan(changes: changes, leftovers: leftovers)
    }

    /// The conflist, what an interrupted write of it left, and host-local's leases of its network
    /// (the network is gone, so are its addresses: a space made again starts at .2 again).
    func teardown(_ space: DoomedSpace, context: PassContext) throws(Failure) -> PartPlan {
        guard let network = space.record.status.network else { return PartPlan() }
        let layout = context.layout
        var changes = [
            Change(
                part: .conflist, action: .delete, subject: network.conflistPath, summary: "remove conflist \(network.conflistPath)",
                operation: .removeFile(path: network.conflistPath))
        ]
        changes += LeftoverPlanner.plan([network.conflistPath], part: .conflist, files: context.drivers.files)
        let configs = [space.conflistText] + (space.attached?.cached ?? []).map(\.config)
        let dataDirs = Set(configs.compactMap { $0 }.flatMap(Self.dataDirectories(in:)))
        let leases = Set([layout.leaseDirectory(network.name)] + dataDirs.map { layout.leaseDirectory(network.name, dataDir: $0) })
        for path in leases.sorted() where context.drivers.files.exists(path) {
            changes.append(
                Change(
                    part: .conflist, action: .delete, subject: path, summary: "remove host-local leases \(path)", operation: .removeTree(path: path)))
        }
        return PartPlan(changes: changes)
    }

    /// The `ipam.dataDir` of every plugin of a network configuration (host-local keeps its leases there).
    static func dataDirectories(in config: String) -> [String] {
        guard let value = try? JSONParser.parse(config) else { return [] }
        return (value["plugins"]?.arrayValue ?? [value]).compactMap { $0["ipam"]?["dataDir"]?.stringValue }.filter { $0.hasPrefix("/") }
    }
}
