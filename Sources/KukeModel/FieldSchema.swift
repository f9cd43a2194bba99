/// The shape of a manifest field, used to reject unknown fields (typo protection)
/// and values of the wrong type, each with the field's path and position.
public indirect enum FieldSchema: Sendable {
    case string
    case integer(ClosedRange<Int64>)
    case boolean
    /// A quantity: an integer, or a string or number as written (`2Gi`, `1.5`, `500m`, `max`),
    /// kept as text for `Quantity` to parse.
    case quantity
    /// A string from a closed set.
    case oneOf([String])
    /// An entry of an egress rule's `ports`: an integer or a string, read by `EgressPorts`
    /// (which checks ranges and protocols, so the two readers of a policy never differ).
    case port
    /// A map of string keys to string values (labels); the walk keeps each entry's positions so
    /// `ManifestDecoder` can check the label rules in manifests while records are read as written.
    case stringMap
    case list(FieldSchema)
    case object([String: FieldSchema])
    /// Accepted and dropped without looking inside (`status` on input).
    case ignored

    static let anyInteger = FieldSchema.integer(Int64.min...Int64.max)
    static let nonNegative = FieldSchema.integer(0...Int64.max)
    static let stringList = FieldSchema.list(.string)

    /// What a value of this schema is called in an error message.
    var noun: String {
        switch self {
        case .string, .oneOf: "a string"
        case .integer: "an integer"
        case .boolean: "a boolean"
        case .quantity: "a quantity"
        case .port: "a port"
        case .stringMap, .object: "a mapping"
        case .list: "a list"
        case .ignored: "anything"
        }
    }
}

/// The schemas of the two kinds kuke reconciles, mirroring upstream Kukeon's v1beta1 types.
public enum ManifestSchema {
    static let metadata = FieldSchema.object([
        "name": .string,
        "labels": .stringMap,
        "generation": .nonNegative,
    ])

    static let egressRule = FieldSchema.object([
        "host": .string,
        "cidr": .string,
        "ports": .list(.port),
    ])

    static let containerDefaults = FieldSchema.object([
        "user": .string,
        "readOnlyRootFilesystem": .boolean,
        "capabilities": .object(["drop": .stringList, "add": .stringList]),
        "securityOpts": .stringList,
        "tmpfs": .list(.object(["path": .string, "sizeBytes": .nonNegative, "options": .stringList])),
        "resources": .object([
            "memoryLimitBytes": .nonNegative,
            "cpuShares": .nonNegative,
            "pidsLimit": .anyInteger,
        ]),
    ])

    /// `spec.resources` of a Space or a Realm (see `ResourceLimits`).
    static let resources = FieldSchema.object([
        "cpu": .object(["max": .quantity, "weight": .integer(1...10000)]),
        "memory": .object(["max": .quantity, "high": .quantity, "swapMax": .quantity]),
        "pids": .object(["max": .quantity]),
        "io": .object([
            "weight": .integer(1...10000),
            "max": .list(.object(["device": .string, "rbps": .quantity, "wbps": .quantity, "riops": .quantity, "wiops": .quantity])),
        ]),
        "hugetlb": .list(.object(["pageSize": .string, "max": .quantity])),
    ])

    /// `kind: Space`.
    public static let space = FieldSchema.object([
        "apiVersion": .string,
        "kind": .string,
        "metadata": metadata,
        "spec": .object([
            "realmId": .string,
            "cniConfigPath": .string,
            "network": .object([
                "egress": .object(["default": .oneOf(["allow", "deny"]), "dns": .oneOf(["allow", "deny"]), "allow": .list(egressRule)]),
                "ipv6": .boolean,
            ]),
            "defaults": .object(["container": containerDefaults]),
            "resources": resources,
            "hostSelector": HostSelector.schema,
        ]),
        "status": .ignored,
    ])

    /// `kind: Realm`.
    public static let realm = FieldSchema.object([
        "apiVersion": .string,
        "kind": .string,
        "metadata": metadata,
        "spec": .object([
            "namespace": .string,
            "registryCredentials": .list(
                .object(["username": .string, "password": .string, "serverAddress": .string])),
            "resources": resources,
            "hostSelector": HostSelector.schema,
            "network": .object(["ipv6": .boolean]),
        ]),
        "status": .ignored,
    ])
}
