/// How `kuke watch` behaves.
public struct WatchOptions: Sendable {
    /// The watched directories, absolute.
    public var roots: [String]
    /// Seconds from the first file event of a burst to the reload.
    public var debounce: Double
    /// Seconds between full resyncs.
    public var resyncInterval: Double
    /// Delete spaces this watcher created whose manifests disappeared.
    public var prune: Bool
    /// Let prune delete spaces that have children.
    public var cascade: Bool
    /// Let prune delete every space the watcher owns (an intentionally empty directory).
    public var allowEmpty: Bool
    /// Seconds a space's manifest must stay gone, over at least two reads of the directories,
    /// before prune deletes it (a file being replaced comes back sooner); 0 prunes at the first read.
    public var pruneGrace: Double
    /// This host's labels: a resource whose `spec.hostSelector` (or its realm's) does not
    /// select them is skipped, and a space it created that is no longer selected is an orphan.
    public var hostLabels: [String: String] = [:]

    public init(
        roots: [String], debounce: Double = 0.1, resyncInterval: Double = 300, prune: Bool = false, cascade: Bool = false, allowEmpty: Bool = false,
        pruneGrace: Double = 30
    ) {
        self.roots = roots
        self.debounce = debounce
        self.resyncInterval = resyncInterval
        self.prune = prune
        self.cascade = cascade
        self.allowEmpty = allowEmpty
        self.pruneGrace = pruneGrace
    }

    /// Recorded as `status.managedBy` on the spaces this watcher creates: only it may prune them.
    public var watcherID: String { "kuke-watch:" + roots.sorted().joined(separator: ",") }
}
