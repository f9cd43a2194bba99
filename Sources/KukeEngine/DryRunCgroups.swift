import Synchronization

/// What a dry run has pretended to do to cgroup directories, so later resources of the same
/// dry run observe them as the real run would (a realm's cgroup created once, not once per
/// space). A real run performs its changes and never records anything here.
public final class DryRunCgroups: Sendable {
    /// Each directory a dry run touched: its predicted state, or nil when it was removed.
    let predicted = Mutex<[String: ObservedCgroup?]>([:])

    public init() {}

    /// The predicted state of `path`: `.some(nil)` when the dry run removed it, nil when it did not touch it.
    func state(of path: String) -> ObservedCgroup?? { predicted.withLock { $0[path] } }

    /// Records the effect of the cgroup changes among `changes`, as carrying them out would have.
    func pretend(_ changes: [Change], observe: (String) -> ObservedCgroup?) {
        predicted.withLock { predicted in
            for change in changes {
                switch change.operation {
                case .makeCgroup(let path):
                    if (predicted[path] ?? observe(path)) == nil { predicted[path] = ObservedCgroup(subtreeControl: []) }
                case .enableControllers(let path, let controllers):
                    let current = (predicted[path] ?? observe(path))?.subtreeControl ?? []
                    predicted[path] = ObservedCgroup(subtreeControl: Array(Set(current + controllers)).sorted())
                case .removeCgroup(let path):
                    predicted[path] = .some(nil)
                default: continue
                }
            }
        }
    }
}
