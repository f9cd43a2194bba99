import KukeModel

/// Plans the metadata part: `space.yaml` or `realm.yaml`, rewritten only when its content
/// (other than `updatedAt`) changes, so a converged resource's file is never touched.
public enum MetadataPlanner {
    public static let spaceMode: UInt32 = 0o644
    /// Realm records may hold registry credentials.
    public static let realmMode: UInt32 = 0o600

    public static func plan(path: String, desired: ManifestValue, stored: ManifestValue?, storedText: String?, mode: UInt32) -> Change? {
        // A record of a kuke from before the header and end marker is rewritten once in today's format.
        let marked = storedText.map(RecordCodec.isCurrentFormat) ?? true
        if let stored, withoutUpdatedAt(stored) == withoutUpdatedAt(desired), marked { return nil }
        let text = RecordCodec.recordText(desired)
        return Change(
            part: .metadata, action: stored == nil ? .create : .update, subject: path,
            summary: "\(stored == nil ? "write" : "update") \(path)\(marked ? "" : " (to the current record format)")",
            diff: UnifiedDiff.make(old: storedText, new: text, oldLabel: path, newLabel: path),
            operation: .writeFile(path: path, text: text, mode: mode))
    }

    static func withoutUpdatedAt(_ value: ManifestValue) -> ManifestValue {
        guard case .map(var entries) = value, let index = entries.firstIndex(where: { $0.key == "status" }),
            case .map(let status) = entries[index].value
        else { return value }
        entries[index].value = .map(status.filter { $0.key != "updatedAt" })
        return .map(entries)
    }
}
