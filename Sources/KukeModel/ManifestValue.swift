/// A YAML value kuke stores and round-trips without acting on it
/// (for example `spec.network.egress` or `spec.defaults.container`).
/// Map entries keep the order they were written in.
public indirect enum ManifestValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case boolean(Bool)
    case list([ManifestValue])
    case map([Entry])

    /// One key of a map, in written order.
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: ManifestValue
        public init(_ key: String, _ value: ManifestValue) {
            self.key = key
            self.value = value
        }
    }

    /// The value under `key` when this is a map.
    public subscript(key: String) -> ManifestValue? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }
}
