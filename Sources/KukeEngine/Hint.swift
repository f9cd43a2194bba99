import KukeModel

/// What fixes a failure or a doctor finding, as data: the command, flag or setting, with what
/// it needs. The engine says which; the CLI and the watcher put it in words (`HintWording`),
/// so no command line is spelled here.
public enum Hint: Sendable, Equatable {
    /// A space names a realm that does not exist: declare it in the batch, or create it.
    case createRealm(String)
    /// `create` of a resource that exists: change it with an apply instead.
    case applyInstead
    /// A conflist kuke did not write is where a space's goes: move it away, or let kuke take
    /// it over (regenerating conflists) when an older kuke wrote it.
    case takeOverConflist
    /// A space's network must change (regenerating conflists) to give it what it lacks.
    case regenerateNetwork(RegeneratedNetwork)
    /// The subnet pool has no free range: another pool, another range for the other network,
    /// or one space fewer.
    case anotherSubnetPool
    /// The run path cannot be read: fix it, or point kuke at the right one.
    case fixRunPath
    /// A prune would empty the inventory: allow it explicitly (how many spaces, which).
    case allowEmptyPrune(count: Int, names: String)
    /// The space is suspended: resume it first.
    case resume(SpaceID)
    /// The resource has children: delete them first, or cascade.
    case deleteChildrenOrCascade
    /// Containers are attached: stop them, or cascade (DEL through the CNI plugins).
    case stopContainersOrCascade
    /// Another process held the host lock for longer than the wait allowed: retry, or wait longer.
    case raiseLockTimeout

    // Doctor's findings.
    /// The cgroup root is unusable: another root, or (for the systemd driver) another driver.
    case cgroupRoot(driver: CgroupDriver)
    /// kuke's cgroup tree is threaded: another root, or the subtree removed.
    case moveCgroupTree
    /// The CNI plugins are too old: newer ones, then conflists regenerated.
    case upgradePlugins(cniVersion: String)
    /// Other runtimes claim ranges in the pool: another range for them, or another pool.
    case foreignRanges(pool: IPv4Subnet)
    /// The run path does not exist yet: make it (before the service starts).
    case initialize
    /// Records cannot be read: repair them; the others can be listed.
    case repairRecords
    /// kuke-* bridges no record describes: restore the records and apply, or delete the links.
    case unrecordedBridges([String])

    /// What a space's regenerated network gives it.
    public enum RegeneratedNetwork: Sendable, Equatable {
        /// A valid bridge name (for `who`: "the space", "it").
        case validName(who: String)
        case ownBridge(SpaceID)
        case ownSubnet(SpaceID)
        case ownIPv6Network(SpaceID)
    }
}

/// Puts hints in words, as the program that runs the engine is used (`kuke`'s commands).
public protocol HintWording: Sendable {
    /// `message` followed by what fixes it, as the whole message reads.
    func text(_ message: String, hint: Hint) -> String
    /// The hint alone, as a fix to carry out (doctor's `fix:`).
    func words(_ hint: Hint) -> String
}

extension HintWording {
    /// `message`, with its hint when it has one.
    public func text(_ message: String, hint: Hint?) -> String { hint.map { text(message, hint: $0) } ?? message }

    /// A failure's whole message.
    public func text(_ failure: Failure) -> String { text(failure.message, hint: failure.hint) }
}

/// Leaves hints out (the engine's own tests, and anything that runs it without a CLI).
public struct NoHints: HintWording {
    public init() {}
    public func text(_ message: String, hint: Hint) -> String { message }
    public func words(_ hint: Hint) -> String { "" }
}
