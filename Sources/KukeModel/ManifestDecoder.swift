import Yams

/// Turns YAML text into Realm and Space manifests, collecting every problem with
/// its `FILE:LINE:COLUMN` instead of stopping at the first.
public enum ManifestDecoder {
    public static let apiVersion = "v1beta1"

    /// Decodes every document of `text`; `file` names the source in positions.
    public static func decode(_ text: String, file: String) -> (resources: [Resource], issues: [ManifestIssue]) {
        // A byte order mark is valid at the start of a YAML stream; libyaml only skips it
        // when it detects the encoding itself, so it is dropped here.
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        var resources: [Resource] = []
        var issues: [ManifestIssue] = []
        let parser: Parser
        do {
            parser = try Parser(yaml: text, resolver: .default, constructor: .default, encoding: .utf8)
        } catch {
            return ([], [syntaxIssue(error, file: file)])
        }
        while true {
            let root: Node?
            do {
                root = try parser.nextRoot()
            } catch {
                issues.append(syntaxIssue(error, file: file))
                break
            }
            guard let root else { break }
            if case .scalar = root, resolvedTag(root) == .null { continue }  // an empty document
            var walker = SchemaWalker(file: file)
            let result = decodeDocument(root, walker: &walker)
            issues += walker.issues.sorted { ($0.position.line, $0.position.column) < ($1.position.line, $1.position.column) }
            if let result, walker.issues.isEmpty { resources.append(result) }
        }
        return (resources, issues)
    }

    static func decodeDocument(_ root: Node, walker: inout SchemaWalker) -> Resource? {
        guard case .mapping(let mapping) = root else {
            walker.fail(root, .documentShape, "a manifest must be a mapping with apiVersion, kind, metadata and spec; found \(walker.describe(root))")
            return nil
        }
        let documentPosition = walker.position(of: root)
        var version: String?
        if let node = mapping["apiVersion"], !walker.isNull(node) {
            version = walker.scalarString(node, path: "apiVersion")
            if let version, version != apiVersion {
                walker.fail(node, .apiVersion, "apiVersion \"\(version)\" is not supported; use \"\(apiVersion)\"")
            }
        }
        guard let kindNode = mapping["kind"], !walker.isNull(kindNode) else {
            walker.issues.append(ManifestIssue(documentPosition, .required, "kind is required (Realm or Space)"))
            return nil
        }
        guard let kind = walker.scalarString(kindNode, path: "kind") else { return nil }
        let schema: FieldSchema
        switch kind {
        case "Space": schema = ManifestSchema.space
        case "Realm": schema = ManifestSchema.realm
        default:
            walker.fail(kindNode, .kind, "kind \"\(kind)\" is not reconciled by kuke; kuke manages Realm and Space")
            return nil
        }
        guard let value = walker.walk(root, schema, path: "") else { return nil }
        let metadata = decodeMetadata(value["metadata"], walker: &walker, document: documentPosition)
        guard let metadata else { return nil }
        let origin = ManifestOrigin(document: documentPosition, name: walker.positions["metadata.name"] ?? documentPosition)
        if let problem = ResourceName.violation(of: metadata.name, isSpace: kind == "Space") {
            walker.issues.append(ManifestIssue(origin.name, .name, "metadata.name \"\(escaped(metadata.name))\" \(problem)"))
        }
        let spec = value["spec"]
        if kind == "Realm" {
            let realmSpec = RealmSpec(namespace: spec?["namespace"]?.stringValue, registryCredentials: spec?["registryCredentials"])
            return .realm(RealmManifest(metadata: metadata, spec: realmSpec, origin: origin))
        }
        guard let realmId = spec?["realmId"]?.stringValue else {
            walker.issues.append(
                ManifestIssue(walker.positions["spec"] ?? documentPosition, .required, "spec.realmId is required: the realm this space belongs to"))
            return nil
        }
        let realmPosition = walker.positions["spec.realmId"] ?? documentPosition
        if let problem = ResourceName.violation(of: realmId) {
            walker.issues.append(
                ManifestIssue(realmPosition, .realmId, "spec.realmId \"\(escaped(realmId))\" is not a valid realm name: it \(problem)"))
        }
        var cniConfigPath: String?
        if let path = spec?["cniConfigPath"]?.stringValue {
            switch CNIConfigPath.normalize(path) {
            case .success(let normalized): cniConfigPath = normalized
            case .failure(let problem):
                walker.issues.append(
                    ManifestIssue(
                        walker.positions["spec.cniConfigPath"] ?? documentPosition, .cniConfigPath,
                        "spec.cniConfigPath \"\(escaped(path))\" \(problem.message)"))
            }
        }
        let spaceSpec = SpaceSpec(realmId: realmId, cniConfigPath: cniConfigPath, network: spec?["network"], defaults: spec?["defaults"])
        return .space(SpaceManifest(metadata: metadata, spec: spaceSpec, origin: origin))
    }

    static func decodeMetadata(_ value: ManifestValue?, walker: inout SchemaWalker, document: SourcePosition) -> ObjectMeta? {
        guard let name = value?["name"]?.stringValue else {
            walker.issues.append(ManifestIssue(walker.positions["metadata"] ?? document, .required, "metadata.name is required"))
            return nil
        }
        return RecordCodec.decodeMetadata(value, name: name)
    }

    /// Shows control characters and NUL in a name as escapes, so the error is readable.
    static func escaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func syntaxIssue(_ error: any Error, file: String) -> ManifestIssue {
        guard let yamlError = error as? YamlError else {
            return ManifestIssue(SourcePosition(file: file, line: 1, column: 1), .yamlSyntax, "YAML error: \(error)")
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let suffix = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return ManifestIssue(
                SourcePosition(file: file, line: mark.line, column: mark.column), .yamlSyntax, "YAML syntax error: \(problem)\(suffix)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ManifestIssue(
                SourcePosition(file: file, line: context.mark.line, column: context.mark.column), .yamlSyntax,
                "duplicate key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", ")) in one mapping")
        case .reader(let problem, let offset, _, _):
            return ManifestIssue(
                SourcePosition(file: file, line: 1, column: 1), .yamlSyntax, "YAML reader error: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        default:
            return ManifestIssue(SourcePosition(file: file, line: 1, column: 1), .yamlSyntax, "YAML error: \(yamlError)")
        }
    }
}

extension ManifestValue {
    /// The string when this is a string scalar.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
