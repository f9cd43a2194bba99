import KukeModel

/// How long each orphan has been gone, so prune acts only on a space whose manifest stayed gone
/// for `--prune-grace` and over at least two reads of the directories: a manifest being replaced
/// (`cp`, `rsync --inplace`, a link swap) is back before then, and nothing of its space changed.
struct PruneGrace: Sendable {
    /// When an orphan was first seen gone, and by which read of the directories.
    struct Gone: Sendable, Equatable {
        var since: Double
        var read: Int
    }

    /// The grace in seconds; 0 prunes at the first read that finds a manifest gone.
    let seconds: Double
    private(set) var gone: [SpaceID: Gone] = [:]

    init(seconds: Double) { self.seconds = seconds }

    /// The grace as given on the command line: `30s`, `2m`, `1.5s`, `500ms`.
    var text: String {
        if seconds >= 60 && seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        if seconds > 0 && seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }

    /// Takes the orphans of the latest read (`read` counts the reads so far): a space back in
    /// the directories is forgotten, a newly gone one starts its grace now.
    mutating func observe(orphans: [SpaceID], now: Double, read: Int) {
        let current = Set(orphans)
        gone = gone.filter { current.contains($0.key) }
        for id in orphans where gone[id] == nil { gone[id] = Gone(since: now, read: read) }
    }

    /// Whether an orphan has been gone for the grace and over two reads (always, with no grace).
    func isRipe(_ id: SpaceID, now: Double, read: Int) -> Bool {
        guard seconds > 0 else { return true }
        guard let entry = gone[id] else { return false }
        return now - entry.since >= seconds && read > entry.read
    }

    /// When the directories should be read again to decide on the orphans not yet ripe: the end
    /// of the earliest grace, or now when a grace has ended but no read has followed its start.
    func recheck(of orphans: [SpaceID], now: Double) -> Double? {
        orphans.compactMap { gone[$0].map { max($0.since + seconds, now) } }.min()
    }
}
