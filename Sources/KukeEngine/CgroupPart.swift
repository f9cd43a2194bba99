import KukeModel

/// The space's cgroup (`kukeon/<realm>/<space>`, or its slice): the directories down to it,
/// the controllers each level delegates, and the space's declared limits. It records where
/// the cgroup is, what it delegates and which limits kuke wrote.
struct CgroupPart: SpacePart {
    var part: Part { .cgroup }
    var phase: Int { 100 }

    func plan(_ space: DesiredSpace, status: inout SpaceStatus, context: PassContext) throws(Failure) -> PartPlan {
        let id = space.id
        let inventory = space.inventory
        let cgroupPath = context.layout.spaceCgroup(id)
        // A new space goes where its realm is: never beside a realm cgroup the settings moved.
        try CgroupMove.check(
            recorded: inventory.realms[id.realm]?.status.cgroupPath, current: context.layout.realmCgroup(id.realm), of: "realm \(id.realm)",
            context: context)
        try CgroupMove.check(recorded: space.stored?.status.cgroupPath, current: cgroupPath, of: "space \(id)", context: context)
        let levels = [context.layout.kukeonCgroup, context.layout.realmCgroup(id.realm), cgroupPath]
        let observed = try context.observeCgroups([context.layout.cgroupRoot] + levels)
        let resources = ResourcePlanner.plan(
            path: cgroupPath, root: context.layout.cgroupRoot, limits: space.manifest.spec.limits,
            stored: space.stored?.status.resources, offered: inventory.offeredControllers, available: inventory.availableControllers,
            pageSizes: { context.drivers.cgroups.hugePageSizes() },
            read: { file in try? context.drivers.cgroups.readFile(file, in: cgroupPath) })
        let changes =
            CgroupPlanner.plan(
                root: context.layout.cgroupRoot, levels: levels, offered: inventory.offeredControllers, observed: observed,
                managed: context.layout.managedControllers) + resources.changes
        status.cgroupPath = cgroupPath
        status.cgroupReady = true
        status.subtreeControllers = CgroupPlanner.predictedSubtree(
            of: cgroupPath, offered: inventory.offeredControllers, observed: observed, managed: context.layout.managedControllers)
        status.slice = context.layout.spaceSlice(id)
        status.resources = resources.written
        return PartPlan(changes: changes, softFailure: resources.failure)
    }

    /// The controllers the cgroup really delegates, read back before the space is recorded `Ready`.
    func confirm(_ id: SpaceID, status: inout SpaceStatus, context: PassContext) throws(Failure) {
        do {
            let managed = context.layout.managedControllers
            status.subtreeControllers = (try context.drivers.cgroups.observe(context.layout.spaceCgroup(id))?.subtreeControl ?? []).filter {
                !managed.contains($0)
            }.sorted()
        } catch {
            throw Failure.host(.cgroupFailed, error)
        }
    }

    /// Every cgroup below the space's (stacks and cells, deepest first), then its own; refused
    /// while processes live in it. (Whether the settings moved it is the deleter's first check.)
    func teardown(_ space: DoomedSpace, context: PassContext) throws(Failure) -> PartPlan {
        let cgroupPath = context.layout.spaceCgroup(space.id)
        do {
            // Checked before anything changes: a space with running processes keeps its network.
            if try context.drivers.cgroups.isPopulated(cgroupPath) {
                throw Failure(.cgroupBusy, "processes are running in \(cgroupPath) or below; stop them first (nothing was changed)")
            }
        } catch let error as HostError {
            throw Failure.host(.cgroupFailed, error)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(.cgroupFailed, "\(error)")
        }
        var changes: [Change] = []
        for path in try Self.descendants(of: cgroupPath, context: context) {
            changes.append(
                Change(part: .cgroup, action: .delete, subject: path, summary: "remove child cgroup \(path)", operation: .removeCgroup(path: path)))
        }
        do {
            if try context.drivers.cgroups.observe(cgroupPath) != nil {
                changes.append(
                    Change(
                        part: .cgroup, action: .delete, subject: cgroupPath, summary: "remove cgroup \(cgroupPath)",
                        operation: .removeCgroup(path: cgroupPath)))
            }
        } catch { throw Failure.host(.cgroupFailed, error) }
        return PartPlan(changes: changes)
    }

    /// Every cgroup below `path`, deepest first, so each can be removed with rmdir.
    static func descendants(of path: String, context: PassContext) throws(Failure) -> [String] {
        let children: [String]
        do { children = try context.drivers.cgroups.children(path).sorted() } catch { throw Failure.host(.cgroupFailed, error) }
        var result: [String] = []
        for child in children {
            let childPath = "\(path)/\(child)"
            result += try descendants(of: childPath, context: context)
            result.append(childPath)
        }
        return result
    }
}
