import KukeModel

/// The space's Linux bridge: made, up, IPv6 on or off as the space is dual-stack or not, and
/// the bridge it was renamed from deleted. On delete: what is attached to it, then the bridge.
struct BridgePart: SpacePart {
    var part: Part { .bridge }
    var phase: Int { 300 }

    func plan(_ space: DesiredSpace, status: inout SpaceStatus, context: PassContext) throws(Failure) -> PartPlan {
        let network = space.network
        let inventory = space.inventory
        let stored = space.stored?.status.network
        var changes = try BridgePlanner.plan(
            name: network.bridge, observed: inventory.network.links[network.bridge], ipv6: space.dualStack, wasDualStack: stored?.ipv6Subnet != nil)
        if let oldBridge = stored?.bridge, oldBridge != network.bridge, inventory.network.links[oldBridge]?.kind == .bridge,
            inventory.bridgeOwner(oldBridge) == space.id  // a bridge another space owns stays with it
        {
            changes.append(
                Change(
                    part: .bridge, action: .delete, subject: oldBridge, summary: "delete bridge \(oldBridge) (renamed to \(network.bridge))",
                    operation: .deleteLink(name: oldBridge)))
        }
        return PartPlan(changes: changes)
    }

    /// Containers a CNI runtime attached, detached through CNI DEL (with `--cascade`; refused
    /// otherwise), whatever else is still on the bridge, then the bridge.
    func teardown(_ space: DoomedSpace, context: PassContext) throws(Failure) -> PartPlan {
        guard let network = space.record.status.network else { return PartPlan() }
        let id = space.id
        if let attached = space.attached, !attached.isEmpty, !space.cascade {
            throw Failure(
                .spaceInUse,
                "space \(id) is in use: \(attached.description)", hint: .stopContainersOrCascade)
        }
        var changes: [Change] = []
        var warnings: [String] = []
        let cached = space.attached?.cached ?? []
        for (attachment, label) in zip(cached, CNIAttachment.labels(cached)) {
            guard let config = attachment.config ?? space.conflistText else {
                throw Failure(
                    .spaceInUse,
                    "container \(label) is attached to space \(id), and neither its cache entry \(attachment.cachePath) nor a conflist holds the configuration its DEL needs (nothing was changed)"
                )
            }
            var detached = attachment
            var summary = "detach container \(label) through CNI DEL"
            switch attachment.netnsSource == .none ? .gone : context.drivers.plugins.checkNamespace(of: attachment) {
            case .usable: break
            case .gone:
                detached.netns = ""
                summary += " without a network namespace (none is left), then remove the masquerade rules the bridge plugin leaves"
            case .foreign(let why):
                detached.netns = ""
                summary += " without a network namespace, then remove the masquerade rules the bridge plugin leaves"
                warnings.append(
                    "container \(label): its cache entry \(attachment.cachePath) names network namespace \(attachment.netns), which is no longer the container's (\(why)); DEL runs without it"
                )
            }
            changes.append(
                Change(
                    part: .bridge, action: .delete, subject: attachment.cachePath, summary: summary, operation: .detach(detached, config: config)))
        }
        if let ports = space.attached?.ports, !ports.isEmpty {
            changes.append(
                Change(
                    part: .bridge, action: .delete, subject: network.bridge,
                    summary: "remove what is still attached to bridge \(network.bridge) (\(ports.joined(separator: ", ")))",
                    operation: .deletePorts(bridge: network.bridge)))
        }
        if space.inventory.network.links[network.bridge]?.kind == .bridge {
            changes.append(
                Change(
                    part: .bridge, action: .delete, subject: network.bridge, summary: "delete bridge \(network.bridge)",
                    operation: .deleteLink(name: network.bridge)))
        }
        return PartPlan(changes: changes, warnings: warnings)
    }
}
