import KukeEngine
import KukeModel

/// The engine's hints as kuke's commands and flags: what a failure message, a doctor row, a
/// record's message and the watcher's log say to do.
struct CommandHints: HintWording {
    func text(_ message: String, hint: Hint) -> String {
        switch hint {
        // A parenthesis, or a clause after a colon, where the message reads on.
        case .takeOverConflist: "\(message) (\(words(hint)))"
        case .regenerateNetwork(.ownBridge), .regenerateNetwork(.ownSubnet), .regenerateNetwork(.ownIPv6Network), .fixRunPath:
            "\(message): \(words(hint))"
        case .stopContainersOrCascade: "\(message); \(words(hint)) (nothing was changed)"
        default: "\(message); \(words(hint))"
        }
    }

    func words(_ hint: Hint) -> String {
        let regenerate = "kuke init --force-regenerate-cni"
        switch hint {
        case .createRealm(let realm): return "declare it in the batch or run `kuke create realm \(realm)`"
        case .applyInstead: return "use `kuke apply` to change it"
        case .takeOverConflist:
            return "move it away to let kuke create it, or run with --force-regenerate-cni if an older kuke wrote it for this space"
        case .regenerateNetwork(let network):
            switch network {
            case .validName(let who): return "run `\(regenerate)` to give \(who) a valid name"
            case .ownBridge(let id): return "run `\(regenerate)` to give \(id) a bridge of its own"
            case .ownSubnet(let id): return "run `\(regenerate)` to give \(id) a subnet of its own"
            case .ownIPv6Network(let id): return "run `\(regenerate)` to give \(id) a network of its own"
            }
        case .anotherSubnetPool: return "choose another pool with --subnet-pool (or KUKEON_SUBNET_POOL), move the other network, or delete a space"
        case .fixRunPath: return "fix the directory's permissions or type, or point --run-path at the right one"
        case .allowEmptyPrune(let count, let names): return "pass --allow-empty to prune all \(count) space(s) of the inventory (\(names))"
        case .resume(let id): return "resume it first: kuke resume space \(id.name) --realm \(id.realm)"
        case .deleteChildrenOrCascade: return "delete them first or pass --cascade"
        case .stopContainersOrCascade: return "stop its containers first, or pass --cascade to detach them through the CNI plugins"
        case .raiseLockTimeout: return "retry, or raise --lock-timeout"
        case .cgroupRoot(let driver):
            return driver == .systemd
                ? "run kuke on a host whose init is systemd, with its cgroup2 mount as the cgroup root (the default), or use --cgroup-driver cgroupfs"
                : "pass --cgroup-root (or KUKEON_CGROUP_ROOT) a directory in a cgroup2 mount"
        case .moveCgroupTree: return "move kuke's tree elsewhere (--cgroup-root) or make the subtree a domain again (remove it: rmdir)"
        case .upgradePlugins(let version): return "install containernetworking-plugins 1.0 or later (cniVersion \(version)); then \(regenerate)"
        case .foreignRanges(let pool):
            return "give the other network a range outside \(pool), or kuke another pool (--subnet-pool, KUKEON_SUBNET_POOL)"
        case .initialize: return "kuke init (the unit's ReadWritePaths= needs it before the service starts)"
        case .repairRecords: return "repair or move the files named; kuke get spaces shows the rest"
        case .unrecordedBridges(let bridges):
            return "restore the space's record and kuke apply its manifest, or ip link delete \(bridges.joined(separator: " / "))"
        }
    }
}
