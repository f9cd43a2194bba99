import Foundation
import KukeModel

/// What the reconcilers of one pass share: the host layout, the drivers, the pass's
/// clock reading and whether it is a dry run; and the steps they all take through the
/// drivers. Each operation is idempotent, so an interrupted pass can simply run again.
public struct PassContext: Sendable {
    public var layout: HostLayout
    public var drivers: HostDrivers
    /// The time stamped into status by this pass.
    public var now: Date
    public var dryRun: Bool
    /// The parts of a space, in phase order (see `SpacePart`).
    public var parts: [any SpacePart]
    /// How the records this pass writes word a failure's hint.
    public var hints: any HintWording
    /// The kernel's boot ID, stamped into status by this pass (nil when it cannot be read).
    public var bootID: String?
    /// Ranges claimed by other runtimes' network configurations, read once per pass when needed.
    public let foreignClaims = ForeignClaimCache()
    /// The cgroup directories as this dry run's earlier changes would have left them.
    public let dryRunCgroups = DryRunCgroups()
    /// The cgroup directories this pass has read (a real run only).
    public let cgroupObservations = CgroupObservations()

    public init(
        layout: HostLayout, drivers: HostDrivers, now: Date, dryRun: Bool, parts: [any SpacePart] = SpaceParts.standard,
        hints: any HintWording = NoHints()
    ) {
        self.parts = SpaceParts.ordered(parts)
        self.hints = hints
        self.layout = layout
        self.drivers = drivers
        self.now = now
        self.dryRun = dryRun
        self.bootID = Self.bootID(layout: layout, files: drivers.files)
    }

    /// The kernel's boot ID at `layout.bootIDPath`, nil when it cannot be read.
    public static func bootID(layout: HostLayout, files: any FileStore) -> String? {
        guard let text = try? files.read(layout.bootIDPath) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }

    /// The ranges claimed by network configurations kuke does not own, in every CNI directory
    /// it writes to (the host default, `directory`, and those its spaces record).
    func foreignClaims(inventory: Inventory, directory: String) -> [ForeignClaim] {
        let directories = foreignClaims.directories(adding: [layout.cniConfigDirectory, directory]) { inventory.conflistDirectories }
        // Ownership only grows during a pass, except by adoption: checked again on every use.
        let owned = { (path: String) in inventory.conflistOwner(path) != nil }
        return directories.sorted().flatMap { foreignClaims.claims(in: $0, files: drivers.files, owned: owned) }.filter { !owned($0.path) }
    }

    /// The IPv6 ranges claimed by network configurations kuke does not own (as `foreignClaims`).
    func foreignClaims6(inventory: Inventory, directory: String) -> [ForeignClaim6] {
        let directories = foreignClaims.directories(adding: [layout.cniConfigDirectory, directory]) { inventory.conflistDirectories }
        let owned = { (path: String) in inventory.conflistOwner(path) != nil }
        return directories.sorted().flatMap { foreignClaims.claims6(in: $0, files: drivers.files, owned: owned) }.filter { !owned($0.path) }
    }

    /// The host's IPv6 pool: the configured one, or the unique local /48 derived from the
    /// machine ID; nil (with why) when there is neither.
    func ipv6Pool() throws(Failure) -> IPv6Subnet {
        if let pool = layout.ipv6Pool { return pool }
        let text: String?
        do { text = try drivers.files.read(layout.machineIDPath) } catch { throw Failure.host(.subnetPoolExhausted, error) }
        guard let pool = text.flatMap(IPv6Pool.uniqueLocal(machineID:)) else {
            throw Failure(
                .subnetPoolExhausted,
                "no IPv6 pool: this host has no machine ID (\(layout.machineIDPath)) to derive its unique local /48 from; set ipv6Pool in the host configuration"
            )
        }
        return pool
    }

    /// Carries out one planned change.
    public func perform(_ change: Change) throws(HostError) {
        cgroupObservations.forget(after: change)
        switch change.operation {
        case .writeFile(let path, let text, let mode): try drivers.files.write(path, text, mode: mode)
        case .removeFile(let path): try drivers.files.remove(path)
        case .removeTree(let path): try drivers.files.removeTree(path)
        case .removeDirectory(let path): try drivers.files.removeDirectory(path)
        case .makeCgroup(let path): try drivers.cgroups.makeDirectory(path)
        case .enableControllers(let path, let controllers): try drivers.cgroups.enable(controllers, in: path)
        case .removeCgroup(let path): try drivers.cgroups.removeDirectory(path)
        case .writeCgroupFile(let path, let file, let value): try drivers.cgroups.writeFile(file, value, in: path)
        case .createBridge(let name): try drivers.links.createBridge(name)
        case .setLinkUp(let name, let ipv6): try drivers.links.setUp(name, ipv6: ipv6)
        case .enableIPv6(let name): try drivers.links.enableIPv6(name)
        case .disableIPv6(let name): try drivers.links.disableIPv6(name)
        case .deleteLink(let name): try drivers.links.delete(name)
        case .deletePorts(let bridge): try drivers.links.deletePorts(of: bridge)
        case .detach(let attachment, let config): try drivers.plugins.delete(attachment, config: config)
        case .replaceFirewall(let script): try drivers.firewall?.replace(script)
        case .action(let action): try action.run(drivers)
        }
    }

    /// Carries out changes in order, stopping at the first the host refuses.
    func performAll(_ changes: [Change]) throws(Failure) {
        for change in changes {
            do { try perform(change) } catch { throw Failure.host(change.part.failureReason, error) }
        }
    }

    /// The state of each cgroup directory that exists among `paths`. All but the last (the
    /// resource's own directory, read once per pass anyway) are kept for the pass.
    func observeCgroups(_ paths: [String]) throws(Failure) -> [String: ObservedCgroup] {
        var observed: [String: ObservedCgroup] = [:]
        for (index, path) in paths.enumerated() {
            if dryRun, let predicted = dryRunCgroups.state(of: path) {
                observed[path] = predicted
                continue
            }
            let observe = { (path: String) throws(Failure) -> ObservedCgroup? in
                do throws(HostError) { return try drivers.cgroups.observe(path) } catch { throw Failure.host(.cgroupFailed, error) }
            }
            let state = index < paths.count - 1 ? try cgroupObservations.state(of: path, observe: observe) : try observe(path)
            if let state { observed[path] = state }
        }
        return observed
    }

    /// In a dry run, what `changes` would have done to cgroup directories, for the resources after.
    func pretend(_ changes: [Change]) {
        guard dryRun else { return }
        dryRunCgroups.pretend(changes) { path in try? drivers.cgroups.observe(path) }
    }

    /// A conflist's text (or its copy's), nil when there is no file; a read the host refuses fails
    /// the space with `ConflistReadFailed`.
    func readConflist(_ path: String) throws(Failure) -> String? {
        do { return try drivers.files.read(path) } catch { throw Failure.host(.conflistReadFailed, error) }
    }

    /// Writes `space.yaml` atomically.
    func writeRecord(_ record: SpaceRecord) throws(Failure) {
        let file = recordWrite(record)
        do {
            try drivers.files.write(file.path, file.text, mode: file.mode)
        } catch {
            throw Failure.host(.metadataWriteFailed, error)
        }
    }

    /// The write of a space's record (`space.yaml`), alone or in a group (`FileStore.writeAll`).
    func recordWrite(_ record: SpaceRecord) -> FileWrite {
        FileWrite(
            path: layout.spaceRecordPath(record.id), text: RecordCodec.recordText(RecordCodec.value(of: record)), mode: MetadataPlanner.spaceMode)
    }
}
