import Foundation

/// A stored record (`space.yaml`, `realm.yaml`) that could not be read.
public struct RecordError: Error, Sendable, CustomStringConvertible {
    /// One thing wrong with the record, at its position when it has one.
    public struct Problem: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringLiteral {
        public var position: SourcePosition?
        public var message: String

        public init(_ message: String, at position: SourcePosition? = nil) {
            self.message = message
            self.position = position
        }

        public init(stringLiteral message: String) { self.init(message) }

        /// A manifest rule the record breaks, at its position.
        public init(_ issue: ManifestIssue) { self.init("\(issue.message) [\(issue.rule.rawValue)]", at: issue.position) }

        public var description: String { position.map { "\($0): \(message)" } ?? message }
    }

    public var file: String
    public var problems: [Problem]

    public init(file: String, problems: [Problem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String { "\(file): unreadable record: \(problems.map(\.description).joined(separator: "; "))" }
}

/// Encodes records as YAML documents (the applied manifest followed by `status`) and reads them back.
public enum RecordCodec {
    static let spaceStatusSchema = FieldSchema.object([
        "state": .oneOf(SpaceState.allCases.map(\.rawValue)),
        "reason": .string,
        "message": .string,
        "cgroupPath": .string,
        "slice": .string,
        "cgroupReady": .boolean,
        "subtreeControllers": .stringList,
        "network": .object(["name": .string, "bridge": .string, "subnet": .string, "ipv6Subnet": .string, "conflistPath": .string]),
        "createdAt": .string,
        "updatedAt": .string,
        "readyAt": .string,
        "observedGeneration": .nonNegative,
        "managedBy": .string,
        "source": .string,
        "egress": .object(["resolved": .list(.object(["host": .string, "addresses": .stringList])), "nameservers": .stringList]),
        "resources": .stringMap,
        "suspended": .object(["reason": .string, "since": .string]),
        "bootId": .string,
    ])

    static let realmStatusSchema = FieldSchema.object([
        "state": .oneOf(SpaceState.allCases.map(\.rawValue)),
        "reason": .string,
        "message": .string,
        "resources": .stringMap,
        "cgroupPath": .string,
        "slice": .string,
        "createdAt": .string,
        "updatedAt": .string,
        "bootId": .string,
    ])

    static func withStatus(_ schema: FieldSchema, _ status: FieldSchema) -> FieldSchema {
        guard case .object(var fields) = schema else { return schema }
        fields["status"] = status
        return .object(fields)
    }

    // MARK: Values

    /// `status.resources`: each interface file kuke wrote (an `io.max` line as `io.max MAJ:MIN`) and its value.
    static func resourcesValue(_ resources: [String: String]) -> ManifestValue {
        .map(resources.sorted { $0.key < $1.key }.map { .init($0.key, .string($0.value)) })
    }

    static func decodeResources(_ value: ManifestValue?) -> [String: String]? {
        guard case .map(let entries)? = value else { return nil }
        return Dictionary(entries.compactMap { entry in entry.value.stringValue.map { (entry.key, $0) } }, uniquingKeysWith: { first, _ in first })
    }

    static func metadataValue(_ metadata: ObjectMeta) -> ManifestValue {
        var entries: [ManifestValue.Entry] = [.init("name", .string(metadata.name))]
        if !metadata.labels.isEmpty {
            entries.append(.init("labels", .map(metadata.labels.sorted { $0.key < $1.key }.map { .init($0.key, .string($0.value)) })))
        }
        if let generation = metadata.generation { entries.append(.init("generation", .integer(generation))) }
        return .map(entries)
    }

    /// The manifest part of a space (`apiVersion`, `kind`, `metadata`, `spec`).
    public static func value(of metadata: ObjectMeta, _ spec: SpaceSpec) -> [ManifestValue.Entry] {
        var specEntries: [ManifestValue.Entry] = [.init("realmId", .string(spec.realmId))]
        if let path = spec.cniConfigPath { specEntries.append(.init("cniConfigPath", .string(path))) }
        if let network = spec.network { specEntries.append(.init("network", network)) }
        if let defaults = spec.defaults { specEntries.append(.init("defaults", defaults)) }
        if let resources = spec.resources { specEntries.append(.init("resources", resources)) }
        if let selector = spec.hostSelector { specEntries.append(.init("hostSelector", selector)) }
        return [
            .init("apiVersion", .string(ManifestDecoder.apiVersion)), .init("kind", .string(ResourceKind.space.rawValue)),
            .init("metadata", metadataValue(metadata)), .init("spec", .map(specEntries)),
        ]
    }

    public static func value(of record: SpaceRecord) -> ManifestValue {
        let status = record.status
        var entries: [ManifestValue.Entry] = [.init("state", .string(status.state.rawValue))]
        func add(_ key: String, _ value: String?) { if let value { entries.append(.init(key, .string(value))) } }
        add("reason", status.reason?.rawValue)
        add("message", status.message)
        add("cgroupPath", status.cgroupPath)
        add("slice", status.slice)
        entries.append(.init("cgroupReady", .boolean(status.cgroupReady)))
        entries.append(.init("subtreeControllers", .list(status.subtreeControllers.map(ManifestValue.string))))
        if let network = status.network {
            entries.append(
                .init(
                    "network",
                    .map(
                        [
                            .init("name", .string(network.name)), .init("bridge", .string(network.bridge)),
                            .init("subnet", .string(network.subnet.description)),
                        ] + (network.ipv6Subnet.map { [.init("ipv6Subnet", .string($0.description))] } ?? []) + [
                            .init("conflistPath", .string(network.conflistPath))
                        ])))
        }
        add("createdAt", status.createdAt.map(Timestamp.format))
        add("updatedAt", status.updatedAt.map(Timestamp.format))
        add("readyAt", status.readyAt.map(Timestamp.format))
        add("bootId", status.bootId)
        if let generation = status.observedGeneration { entries.append(.init("observedGeneration", .integer(generation))) }
        add("managedBy", status.managedBy)
        add("source", status.source)
        if let resources = status.resources { entries.append(.init("resources", resourcesValue(resources))) }
        if let suspended = status.suspended {
            var suspension: [ManifestValue.Entry] = [.init("reason", .string(suspended.reason))]
            if let since = suspended.since { suspension.append(.init("since", .string(Timestamp.format(since)))) }
            entries.append(.init("suspended", .map(suspension)))
        }
        if let egress = status.egress {
            let resolved = egress.resolved.map { entry in
                ManifestValue.map([
                    .init("host", .string(entry.host)),
                    .init("addresses", .list(entry.addresses.map { .string($0.description) } + entry.addresses6.map { .string($0.description) })),
                ])
            }
            var egressEntries: [ManifestValue.Entry] = resolved.isEmpty ? [] : [.init("resolved", .list(resolved))]
            if let nameservers = egress.nameservers { egressEntries.append(.init("nameservers", .list(nameservers.map { .string($0.description) }))) }
            entries.append(.init("egress", .map(egressEntries)))
        }
        return .map(value(of: record.metadata, record.spec) + [.init("status", .map(entries))])
    }

    public static func value(of record: RealmRecord) -> ManifestValue {
        var specEntries: [ManifestValue.Entry] = []
        if let namespace = record.spec.namespace { specEntries.append(.init("namespace", .string(namespace))) }
        if let credentials = record.spec.registryCredentials { specEntries.append(.init("registryCredentials", credentials)) }
        if let resources = record.spec.resources { specEntries.append(.init("resources", resources)) }
        if let selector = record.spec.hostSelector { specEntries.append(.init("hostSelector", selector)) }
        if let network = record.spec.network { specEntries.append(.init("network", network)) }
        var statusEntries: [ManifestValue.Entry] = [.init("state", .string(record.status.state.rawValue))]
        if let reason = record.status.reason { statusEntries.append(.init("reason", .string(reason.rawValue))) }
        if let message = record.status.message { statusEntries.append(.init("message", .string(message))) }
        if let path = record.status.cgroupPath { statusEntries.append(.init("cgroupPath", .string(path))) }
        if let slice = record.status.slice { statusEntries.append(.init("slice", .string(slice))) }
        if let date = record.status.createdAt { statusEntries.append(.init("createdAt", .string(Timestamp.format(date)))) }
        if let date = record.status.updatedAt { statusEntries.append(.init("updatedAt", .string(Timestamp.format(date)))) }
        if let boot = record.status.bootId { statusEntries.append(.init("bootId", .string(boot))) }
        if let resources = record.status.resources { statusEntries.append(.init("resources", resourcesValue(resources))) }
        return .map([
            .init("apiVersion", .string(ManifestDecoder.apiVersion)), .init("kind", .string(ResourceKind.realm.rawValue)),
            .init("metadata", metadataValue(record.metadata)), .init("spec", .map(specEntries)),
            .init("status", .map(statusEntries)),
        ])
    }

    // MARK: YAML text

    /// A YAML document for `value`, keys in the order given.
    public static func yaml(_ value: ManifestValue) -> String { YAMLEmitter.document(value) }

    // MARK: Decoding

    public static func decodeSpace(_ text: String, file: String) throws(RecordError) -> SpaceRecord {
        let value = try walk(text, file: file, schema: withStatus(ManifestSchema.space, spaceStatusSchema))
        guard let name = value["metadata"]?["name"]?.stringValue, let realm = value["spec"]?["realmId"]?.stringValue else {
            throw RecordError(file: file, problems: ["metadata.name or spec.realmId is missing"])
        }
        let metadata = decodeMetadata(value["metadata"], name: name)
        let specValue = value["spec"]
        let spec = SpaceSpec(
            realmId: realm, cniConfigPath: specValue?["cniConfigPath"]?.stringValue, network: specValue?["network"], defaults: specValue?["defaults"],
            resources: specValue?["resources"], hostSelector: specValue?["hostSelector"])
        let statusValue = value["status"]
        var status = SpaceStatus()
        status.state = statusValue?["state"]?.stringValue.flatMap(SpaceState.init(rawValue:)) ?? .pending
        status.reason = statusValue?["reason"]?.stringValue.flatMap(FailureReason.init(rawValue:))
        status.message = statusValue?["message"]?.stringValue
        status.cgroupPath = statusValue?["cgroupPath"]?.stringValue
        status.slice = statusValue?["slice"]?.stringValue
        if case .boolean(let ready)? = statusValue?["cgroupReady"] { status.cgroupReady = ready }
        if case .list(let items)? = statusValue?["subtreeControllers"] { status.subtreeControllers = items.compactMap(\.stringValue) }
        if let network = statusValue?["network"] {
            guard let networkName = network["name"]?.stringValue, let bridge = network["bridge"]?.stringValue,
                let subnetText = network["subnet"]?.stringValue, let subnet = IPv4Subnet(subnetText),
                let conflistPath = network["conflistPath"]?.stringValue
            else { throw RecordError(file: file, problems: ["status.network is incomplete or has an invalid subnet"]) }
            var ipv6Subnet: IPv6Subnet?
            if let text = network["ipv6Subnet"]?.stringValue {
                guard let parsed = IPv6Subnet(text) else {
                    throw RecordError(file: file, problems: [.init("status.network.ipv6Subnet \"\(text)\" is not an IPv6 network")])
                }
                ipv6Subnet = parsed
            }
            status.network = SpaceNetworkStatus(name: networkName, bridge: bridge, subnet: subnet, ipv6Subnet: ipv6Subnet, conflistPath: conflistPath)
        }
        status.createdAt = statusValue?["createdAt"]?.stringValue.flatMap(Timestamp.parse)
        status.updatedAt = statusValue?["updatedAt"]?.stringValue.flatMap(Timestamp.parse)
        status.readyAt = statusValue?["readyAt"]?.stringValue.flatMap(Timestamp.parse)
        status.bootId = statusValue?["bootId"]?.stringValue
        if case .integer(let generation)? = statusValue?["observedGeneration"] { status.observedGeneration = generation }
        status.managedBy = statusValue?["managedBy"]?.stringValue
        status.source = statusValue?["source"]?.stringValue
        status.resources = decodeResources(statusValue?["resources"])
        if let reason = statusValue?["suspended"]?["reason"]?.stringValue {
            status.suspended = Suspension(reason: reason, since: statusValue?["suspended"]?["since"]?.stringValue.flatMap(Timestamp.parse))
        }
        if let egress = statusValue?["egress"] {
            var resolved: [EgressStatus.Resolved] = []
            if case .list(let items)? = egress["resolved"] {
                resolved = items.compactMap { item in
                    guard let host = item["host"]?.stringValue else { return nil }
                    guard case .list(let addresses)? = item["addresses"] else { return .init(host: host, addresses: []) }
                    return .init(
                        host: host, addresses: addresses.compactMap { $0.stringValue.flatMap(IPv4Address.init) },
                        addresses6: addresses.compactMap { $0.stringValue.flatMap { IPv6Address($0) } })
                }
            }
            var nameservers: [IPv4Address]?
            if let listed = egress["nameservers"] {
                if case .list(let items) = listed {
                    nameservers = items.compactMap { $0.stringValue.flatMap(IPv4Address.init) }
                } else {
                    nameservers = []
                }
            }
            status.egress = EgressStatus(resolved: resolved, nameservers: nameservers)
        }
        return SpaceRecord(metadata: metadata, spec: spec, status: status)
    }

    public static func decodeRealm(_ text: String, file: String) throws(RecordError) -> RealmRecord {
        let value = try walk(text, file: file, schema: withStatus(ManifestSchema.realm, realmStatusSchema))
        guard let name = value["metadata"]?["name"]?.stringValue else {
            throw RecordError(file: file, problems: ["metadata.name is missing"])
        }
        let spec = RealmSpec(
            namespace: value["spec"]?["namespace"]?.stringValue, registryCredentials: value["spec"]?["registryCredentials"],
            resources: value["spec"]?["resources"], hostSelector: value["spec"]?["hostSelector"], network: value["spec"]?["network"])
        let statusValue = value["status"]
        var status = RealmStatus(
            state: statusValue?["state"]?.stringValue.flatMap(SpaceState.init(rawValue:)) ?? .ready,
            cgroupPath: statusValue?["cgroupPath"]?.stringValue,
            createdAt: statusValue?["createdAt"]?.stringValue.flatMap(Timestamp.parse),
            updatedAt: statusValue?["updatedAt"]?.stringValue.flatMap(Timestamp.parse))
        status.reason = statusValue?["reason"]?.stringValue.flatMap(FailureReason.init(rawValue:))
        status.message = statusValue?["message"]?.stringValue
        status.resources = decodeResources(statusValue?["resources"])
        status.bootId = statusValue?["bootId"]?.stringValue
        status.slice = statusValue?["slice"]?.stringValue
        return RealmRecord(metadata: decodeMetadata(value["metadata"], name: name), spec: spec, status: status)
    }

    static func decodeMetadata(_ value: ManifestValue?, name: String) -> ObjectMeta {
        var labels: [String: String] = [:]
        if case .map(let entries)? = value?["labels"] {
            for entry in entries { labels[entry.key] = entry.value.stringValue ?? "" }
        }
        var generation: Int64?
        if case .integer(let number)? = value?["generation"] { generation = number }
        return ObjectMeta(name: name, labels: labels, generation: generation)
    }

    /// The first line of every record kuke writes: it says the file must end with `endMarker`.
    public static let header = "# kuke record: complete only when it ends with the line below\n"
    /// The last line of every record kuke writes. A file that starts with `header` and lacks it
    /// was cut short (a torn write by another tool, a truncated copy) and is not taken as
    /// valid, even when what is left parses.
    public static let endMarker = "# end of kuke record\n"

    /// The text of a record file: the header, its YAML document, then the end marker.
    public static func recordText(_ value: ManifestValue) -> String { header + yaml(value) + endMarker }

    /// Whether `text` ends with the end marker (with or without the final line end).
    public static func hasEndMarker(_ text: String) -> Bool {
        text.hasSuffix(endMarker) || text.hasSuffix(endMarker.dropLast() + "\r\n") || text.hasSuffix(endMarker.dropLast())
    }

    /// Whether `text` is a record in today's format (header and end marker); others are read as
    /// records of an earlier kuke and rewritten by the next pass.
    public static func isCurrentFormat(_ text: String) -> Bool {
        text.hasPrefix(header.dropLast()) && hasEndMarker(text)
    }

    static func walk(_ text: String, file: String, schema: FieldSchema) throws(RecordError) -> ManifestValue {
        let cutShort = RecordError(
            file: file, problems: [.init("the file ends before the line \"\(endMarker.dropLast())\" (cut short by a torn or truncated write?)")])
        if text.hasPrefix(header.dropLast()) {
            guard hasEndMarker(text) else { throw cutShort }
            return try parse(text, file: file, schema: schema)
        }
        // A record of a kuke from before the header and marker: read when complete. Such a kuke
        // wrote atomically; `status.updatedAt` comes after `network` and `createdAt`, and
        // `status.egress` did not exist, so a file cut before the one or holding the other is refused.
        let value = try parse(text, file: file, schema: schema)
        guard value["status"]?["updatedAt"] != nil, value["status"]?["egress"] == nil else { throw cutShort }
        return value
    }

    static func parse(_ text: String, file: String, schema: FieldSchema) throws(RecordError) -> ManifestValue {
        if text.isEmpty { throw RecordError(file: file, problems: ["empty file"]) }
        let yaml = YAMLStream(text)
        let root: Int?
        switch yaml.singleRoot() {
        case .success(let found): root = found.map(yaml.resolved)
        case .failure(let failure):
            let issue = ManifestDecoder.issue(failure, file: file)
            throw RecordError(file: file, problems: [failure.isLimit ? .init(failure.message, at: issue.position) : .init(issue)])
        }
        guard let root else { throw RecordError(file: file, problems: ["empty file"]) }
        var walker = SchemaWalker(file: file, yaml: yaml)
        let value = walker.walk(root, schema, path: "")
        guard walker.issues.isEmpty, let value else {
            throw RecordError(file: file, problems: walker.issues.map(RecordError.Problem.init))
        }
        return value
    }
}

/// RFC 3339 timestamps in UTC, as written in status.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: TimeZone(identifier: "UTC")!))
    }

    public static func parse(_ text: String) -> Date? {
        try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: TimeZone(identifier: "UTC")!))
    }
}
