import KukeModel
import Synchronization

/// Decoded space records by path and text, for a long-running process (`kuke watch`): a record
/// whose text is unchanged since the last pass is not decoded again. Reading stays, so the
/// records on disk remain the truth.
public final class RecordCache: Sendable {
    let entries = Mutex<[String: (text: String, record: SpaceRecord)]>([:])

    public init() {}

    func record(at path: String, text: String) -> SpaceRecord? {
        entries.withLock { $0[path].flatMap { $0.text == text ? $0.record : nil } }
    }

    func store(_ record: SpaceRecord, at path: String, text: String) {
        entries.withLock { $0[path] = (text, record) }
    }

    /// Drops entries for records no longer on disk.
    func keep(only paths: Set<String>) {
        entries.withLock { entries in entries = entries.filter { paths.contains($0.key) } }
    }
}
