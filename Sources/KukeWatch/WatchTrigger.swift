/// What wakes the watch loop.
public enum WatchTrigger: Sendable, Equatable {
    /// Something under the watched directories changed (debounced before a reload).
    case filesChanged
    /// The kernel dropped file events (IN_Q_OVERFLOW): reload and re-observe everything.
    case overflow
    /// A full resync: the periodic timer, SIGHUP, or a netlink overflow (ENOBUFS).
    case resync(reason: String)
    /// A link was deleted (RTM_DELLINK): repair it at once if it is a managed bridge.
    case linkDeleted(String)
    /// Time passes: due work runs.
    case tick
}

/// Produces `WatchTrigger.filesChanged` (and `.overflow`) for a set of directories.
public protocol ManifestWatcher: Sendable {
    /// Starts watching; events go to `sink` from the watcher's own thread or task.
    func start(roots: [String], sink: @escaping @Sendable (WatchTrigger) -> Void) throws
    /// Stops watching; returns once no more events will be sent.
    func stop()
}
