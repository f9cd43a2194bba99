/// Turns YAML text into Realm and Space manifests, collecting every problem with
/// its `FILE:LINE:COLUMN` instead of stopping at the first.
public enum ManifestDecoder {
    public static let apiVersion = "v1beta1"
    /// Most documents one file may hold (empty ones included): a flood of `---` is refused by
    /// `YAMLPrescan` in bounded time instead of being composed one by one.
    public static let maximumDocuments = 10_000

    /// Decodes every document of `text`; `file` names the source in positions.
    public static func decode(_ text: String, file: String) -> (resources: [Resource], issues: [ManifestIssue]) {
        // A byte order mark is valid at the start of a YAML stream; libyaml only skips it
        // when it detects the encoding itself, so it is dropped here.
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        let yaml = YAMLStream(text)
        var resources: [Resource] = []
        var issues: [ManifestIssue] = []
        for root in yaml.roots.map(yaml.resolved) {
            if yaml.isNullScalar(root) { continue }  // an empty document
            var walker = SchemaWalker(file: file, yaml: yaml)
            let result = decodeDocument(root, walker: &walker)
            issues += walker.issues.sorted { ($0.position.line, $0.position.column) < ($1.position.line, $1.position.column) }
            if let result, walker.issues.isEmpty { resources.append(result) }
        }
        if let failure = yaml.failure { issues.append(issue(failure, file: file)) }
        return (resources, issues)
    }

    static func decodeDocument(_ root: Int, walker: inout SchemaWalker) -> Resource? {
        guard walker.yaml.events[root].kind == .mapping else {
            walker.fail(root, .documentShape, "a manifest must be a mapping with apiVersion, kind, metadata and spec; found \(walker.describe(root))")
            return nil
        }
        let documentPosition = walker.position(of: root)
        var version: String?
        if let node = walker.yaml.value(in: root, forKey: "apiVersion"), !walker.isNull(node) {
            version = walker.scalarString(node, path: "apiVersion")
            if let version, version != apiVersion {
                walker.fail(node, .apiVersion, "apiVersion \"\(version)\" is not supported; use \"\(apiVersion)\"")
            }
        }
        guard let kindNode = walker.yaml.value(in: root, forKey: "kind"), !walker.isNull(kindNode) else {
            walker.issues.append(ManifestIssue(documentPosition, .required, "kind is required (Realm or Space)"))
            return nil
        }
        guard let kindText = walker.scalarString(kindNode, path: "kind") else { return nil }
        let schema: FieldSchema
        let kind = ResourceKind(rawValue: kindText)
        switch kind {
        case .space: schema = ManifestSchema.space
        case .realm: schema = ManifestSchema.realm
        case .firewall, nil:
            let kind = kindText
            // `space`, `Spcae`: the kind meant is named, as for unknown fields.
            // Another case, one edit, or the same letters swapped; `Stack` (a kind of upstream's) is not a typo.
            let meant = [ResourceKind.realm, .space].map(\.rawValue).first { known in
                let (a, b) = (kind.lowercased(), known.lowercased())
                return editDistance(a, b) <= 1 || (a.count == b.count && a.sorted() == b.sorted())
            }
            walker.fail(
                kindNode, .kind,
                "kind \"\(kind)\" is not reconciled by kuke; kuke manages Realm and Space\(meant.map { " (did you mean \"\($0)\"?)" } ?? "")")
            return nil
        }
        guard let value = walker.walk(root, schema, path: "") else { return nil }
        let name = requiredString(value["metadata"]?["name"], path: "metadata.name", parent: "metadata", walker: &walker, document: documentPosition)
        let origin = ManifestOrigin(document: documentPosition, name: walker.positions["metadata.name"] ?? documentPosition)
        if let name, let problem = ResourceName.violation(of: name, isSpace: kind == .space) {
            walker.issues.append(ManifestIssue(origin.name, .name, "metadata.name \"\(VisibleText.escaped(name))\" \(problem)"))
        }
        walker.issues += labelIssues(walker.mapEntries["metadata.labels"] ?? [])
        let spec = value["spec"]
        walker.issues += HostSelector.issues(
            spec?["hostSelector"], labelEntries: walker.mapEntries["spec.hostSelector.matchLabels"] ?? [], positions: walker.positions,
            document: documentPosition)
        if kind == .realm {
            guard let name else { return nil }
            walker.issues += ResourceRules.issues(spec?["resources"], positions: walker.positions, document: documentPosition)
            let realmSpec = RealmSpec(
                namespace: spec?["namespace"]?.stringValue, registryCredentials: spec?["registryCredentials"], resources: spec?["resources"],
                hostSelector: spec?["hostSelector"], network: spec?["network"])
            return .realm(RealmManifest(metadata: RecordCodec.decodeMetadata(value["metadata"], name: name), spec: realmSpec, origin: origin))
        }
        let realmId = requiredString(spec?["realmId"], path: "spec.realmId", parent: "spec", walker: &walker, document: documentPosition)
        if let realmId, let problem = ResourceName.violation(of: realmId) {
            walker.issues.append(
                ManifestIssue(
                    walker.positions["spec.realmId"] ?? documentPosition, .realmId,
                    "spec.realmId \"\(VisibleText.escaped(realmId))\" is not a valid realm name: it \(problem)"))
        }
        var cniConfigPath: String?
        if let path = spec?["cniConfigPath"]?.stringValue {
            switch CNIConfigPath.normalize(path) {
            case .success(let normalized): cniConfigPath = normalized
            case .failure(let problem):
                walker.issues.append(
                    ManifestIssue(
                        walker.positions["spec.cniConfigPath"] ?? documentPosition, .cniConfigPath,
                        "spec.cniConfigPath \"\(VisibleText.escaped(path))\" \(problem.message)"))
            }
        }
        walker.issues += EgressRules.issues(spec?["network"], positions: walker.positions, document: documentPosition)
        walker.issues += ResourceRules.issues(spec?["resources"], positions: walker.positions, document: documentPosition)
        guard let name, let realmId else { return nil }
        let spaceSpec = SpaceSpec(
            realmId: realmId, cniConfigPath: cniConfigPath, network: spec?["network"], defaults: spec?["defaults"], resources: spec?["resources"],
            hostSelector: spec?["hostSelector"])
        return .space(SpaceManifest(metadata: RecordCodec.decodeMetadata(value["metadata"], name: name), spec: spaceSpec, origin: origin))
    }

    /// One `label` issue per bad key or value, at the key or the value.
    static func labelIssues(_ entries: [SchemaWalker.MapEntry]) -> [ManifestIssue] {
        entries.flatMap { entry in
            [
                Label.keyProblem(entry.key).map { ManifestIssue(entry.keyPosition, .label, $0) },
                Label.valueProblem(entry.value, key: entry.key).map { ManifestIssue(entry.valuePosition, .label, $0) },
            ].compactMap { $0 }
        }
    }

    /// A required string field; when it is missing or null a `required` issue is added,
    /// unless the walk already reported the value (a number where a string belongs).
    static func requiredString(
        _ value: ManifestValue?, path: String, parent: String, walker: inout SchemaWalker, document: SourcePosition
    ) -> String? {
        if let text = value?.stringValue { return text }
        let position = walker.positions[path]
        if let position, walker.issues.contains(where: { $0.position == position }) { return nil }
        let purpose = path == "spec.realmId" ? ": the realm this space belongs to" : ""
        walker.issues.append(ManifestIssue(position ?? walker.positions[parent] ?? document, .required, "\(path) is required\(purpose)"))
        return nil
    }

    /// The issue for a failure that stopped the reading: a limit or a syntax error.
    static func issue(_ failure: YAMLStream.Failure, file: String) -> ManifestIssue {
        ManifestIssue(
            SourcePosition(file: file, line: failure.line, column: failure.column), failure.isLimit ? .documentShape : .yamlSyntax, failure.message)
    }
}

extension ManifestValue {
    /// The string when this is a string scalar.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
