/// The host configuration, `/etc/kukeon/kuke.yaml` by default (`--config`, `KUKEON_CONFIG`):
/// `kind: HostConfig`, the host's labels (which `spec.hostSelector` matches) and the layout
/// settings of the host options. Validated as manifests are, every problem with its position.
///
/// ```yaml
/// apiVersion: v1beta1
/// kind: HostConfig
/// spec:
///   labels: {site: fra, role: web}
///   runPath: /opt/kukeon
///   subnetPool: 10.88.0.0/16
///   cgroupDriver: systemd
/// ```
public struct HostConfig: Sendable, Equatable {
    /// A value and where the file set it.
    public struct Setting: Sendable, Equatable {
        public var value: String
        public var position: SourcePosition
    }

    public var labels: [String: Setting] = [:]
    /// The layout settings, by their key in the file (`runPath`, `cniConfigDir`, `cgroupRoot`,
    /// `subnetPool`, `cniStateDir`, `cgroupDriver`).
    public var layout: [String: Setting] = [:]

    public init() {}

    public static let kind = "HostConfig"
    /// The layout keys, in the order the host options list them.
    public static let layoutKeys = ["runPath", "cniConfigDir", "cgroupRoot", "subnetPool", "cniStateDir", "cgroupDriver", "ipv6Pool"]

    static let schema = FieldSchema.object([
        "apiVersion": .string,
        "kind": .string,
        "metadata": .object(["name": .string]),
        "spec": .object(
            [
                "labels": .stringMap
            ].merging(layoutKeys.map { ($0, FieldSchema.string) }) { $1 }),
    ])

    /// The configuration in `text` (read from `file`), or every problem found with its position.
    public static func decode(_ text: String, file: String) -> Result<HostConfig, ManifestIssues> {
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        let start = SourcePosition(file: file, line: 1, column: 1)
        let yaml = YAMLStream(text)
        let root: Int?
        switch yaml.singleRoot() {
        case .success(let found): root = found.map(yaml.resolved)
        case .failure(let failure): return .failure(ManifestIssues([ManifestDecoder.issue(failure, file: file)]))
        }
        guard let root, yaml.events[root].kind == .mapping else {
            return .failure(
                ManifestIssues([ManifestIssue(start, .documentShape, "a host configuration is a mapping with apiVersion, kind: HostConfig and spec")])
            )
        }
        var walker = SchemaWalker(file: file, yaml: yaml)
        let document = walker.position(of: root)
        if let node = yaml.value(in: root, forKey: "kind"), let kind = walker.scalarString(node, path: "kind"), kind != Self.kind {
            walker.fail(node, .kind, "kind \"\(kind)\" is not a host configuration; use \"\(Self.kind)\"")
        } else if yaml.value(in: root, forKey: "kind") == nil {
            walker.issues.append(ManifestIssue(document, .required, "kind is required (HostConfig)"))
        }
        if let node = yaml.value(in: root, forKey: "apiVersion"), let version = walker.scalarString(node, path: "apiVersion"),
            version != ManifestDecoder.apiVersion
        {
            walker.fail(node, .apiVersion, "apiVersion \"\(version)\" is not supported; use \"\(ManifestDecoder.apiVersion)\"")
        }
        let value = walker.walk(root, schema, path: "")
        walker.issues += ManifestDecoder.labelIssues(walker.mapEntries["spec.labels"] ?? [])
        var config = HostConfig()
        for entry in walker.mapEntries["spec.labels"] ?? [] { config.labels[entry.key] = Setting(value: entry.value, position: entry.valuePosition) }
        for key in layoutKeys {
            guard let text = value?["spec"]?[key]?.stringValue else { continue }
            let position = walker.positions["spec.\(key)"] ?? document
            if key == "subnetPool" {
                if let subnet = IPv4Subnet(text) {
                    if let problem = SubnetAllocator.violation(of: subnet) {
                        walker.issues.append(ManifestIssue(position, .fieldValue, "spec.subnetPool: \(problem)"))
                    }
                } else {
                    walker.issues.append(
                        ManifestIssue(position, .fieldValue, "spec.subnetPool \"\(text)\" is not an IPv4 network in CIDR form (like 10.88.0.0/16)"))
                }
            } else if key == "ipv6Pool" {
                if let problem = IPv6Pool.problem(text) { walker.issues.append(ManifestIssue(position, .fieldValue, "spec.ipv6Pool \(problem)")) }
            } else if key == "cgroupDriver" {
                if let problem = CgroupDriver.problem(text) {
                    walker.issues.append(ManifestIssue(position, .fieldValue, "spec.cgroupDriver \(problem)"))
                }
            } else if !text.hasPrefix("/") {
                walker.issues.append(ManifestIssue(position, .fieldValue, "spec.\(key) \"\(text)\" must be an absolute path"))
            }
            config.layout[key] = Setting(value: text, position: position)
        }
        guard walker.issues.isEmpty else {
            return .failure(ManifestIssues(walker.issues.sorted { ($0.position.line, $0.position.column) < ($1.position.line, $1.position.column) }))
        }
        return .success(config)
    }
}
