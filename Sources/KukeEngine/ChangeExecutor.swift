/// Carries out one planned change through the host drivers. Each operation is
/// idempotent, so a pass interrupted at any point can simply be run again.
public struct ChangeExecutor: Sendable {
    public var drivers: HostDrivers

    public init(drivers: HostDrivers) { self.drivers = drivers }

    public func perform(_ change: Change) throws(HostError) {
        switch change.operation {
        case .writeFile(let path, let text, let mode): try drivers.files.write(path, text, mode: mode)
        case .removeFile(let path): try drivers.files.remove(path)
        case .removeTree(let path): try drivers.files.removeTree(path)
        case .makeCgroup(let path): try drivers.cgroups.makeDirectory(path)
        case .enableControllers(let path, let controllers): try drivers.cgroups.enable(controllers, in: path)
        case .removeCgroup(let path): try drivers.cgroups.removeDirectory(path)
        case .createBridge(let name): try drivers.links.createBridge(name)
        case .setLinkUp(let name): try drivers.links.setUp(name)
        case .deleteLink(let name): try drivers.links.delete(name)
        }
    }

    /// The failure reason for a change of `part` that the host refused.
    static func reason(for part: Part) -> String {
        switch part {
        case .metadata: "MetadataWriteFailed"
        case .cgroup: "CgroupFailed"
        case .conflist: "ConflistWriteFailed"
        case .bridge: "BridgeFailed"
        }
    }
}
