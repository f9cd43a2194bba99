import Synchronization

/// The cgroup directories a pass has observed, so the levels every space shares (the cgroup
/// root, `kukeon`, the realm's) are read once per pass rather than once per space. A change
/// the pass makes to a directory forgets it and everything below it; the pass holds the host
/// lock, so nothing else of kuke's changes them meanwhile.
public final class CgroupObservations: Sendable {
    /// Each directory observed: its state, or nil when it did not exist.
    let observed = Mutex<[String: ObservedCgroup?]>([:])

    public init() {}

    /// The state of `path`, read through `observe` the first time.
    func state(of path: String, observe: (String) throws(Failure) -> ObservedCgroup?) throws(Failure) -> ObservedCgroup? {
        if let known = observed.withLock({ $0[path] }) { return known }
        let state = try observe(path)
        observed.withLock { $0[path] = .some(state) }
        return state
    }

    /// Forgets what `change` alters: the directory it names and the directories below it
    /// (their `cgroup.controllers` follow the parent's `cgroup.subtree_control`).
    func forget(after change: Change) {
        let path: String
        switch change.operation {
        case .makeCgroup(let named), .enableControllers(let named, _), .removeCgroup(let named): path = named
        case .writeCgroupFile(let named, let file, _) where file == "cgroup.subtree_control": path = named
        default: return
        }
        observed.withLock { observed in
            for key in observed.keys where key == path || key.hasPrefix(path + "/") { observed[key] = nil }
        }
    }
}
