import KukeModel
import Synchronization

/// Decoded space records by path, for a long-running process (`kuke watch`): a record whose file
/// has the same identity (inode, size, modification and change times) as at the last pass is
/// neither read nor decoded again; one whose text is unchanged is not decoded again. Any write
/// changes the change time, so the records on disk remain the truth.
public final class RecordCache: Sendable {
    let entries = Mutex<[String: (identity: String?, text: String, record: SpaceRecord)]>([:])

    public init() {}

    /// The text and record last read from `path`, when its identity is still the same.
    func entry(at path: String, identity: String?) -> (text: String, record: SpaceRecord)? {
        guard let identity else { return nil }
        return entries.withLock { $0[path].flatMap { $0.identity == identity ? ($0.text, $0.record) : nil } }
    }

    func record(at path: String, text: String) -> SpaceRecord? {
        entries.withLock { $0[path].flatMap { $0.text == text ? $0.record : nil } }
    }

    func store(_ record: SpaceRecord, at path: String, text: String, identity: String?) {
        entries.withLock { $0[path] = (identity, text, record) }
    }

    /// Drops entries for records no longer on disk.
    func keep(only paths: Set<String>) {
        entries.withLock { entries in entries = entries.filter { paths.contains($0.key) } }
    }
}
