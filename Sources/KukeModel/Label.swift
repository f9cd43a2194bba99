/// Kubernetes' rules for label keys and values, the one place both manifests and `--label` check.
///
/// A key is an optional prefix and `/`, then a name. The prefix is a lowercase RFC 1123
/// subdomain (at most 253 bytes; dot-separated parts of `[a-z0-9-]`, each alphanumeric at both
/// ends); the name is 1–63 of `[A-Za-z0-9._-]`, alphanumeric at both ends. A value is empty,
/// or follows the name's rule. These are apimachinery's `IsQualifiedName` and
/// `IsValidLabelValue`, so a label kubectl accepts is accepted here and the other way round.
public enum Label {
    /// The longest name part of a key, and the longest value.
    public static let maximumNameLength = 63
    /// The longest prefix part of a key (a DNS subdomain).
    public static let maximumPrefixLength = 253

    static let nameCharacters = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
    static let valueCharacters =
        "must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

    /// Why `key` is not a valid label key, or nil when it is.
    public static func violation(ofKey key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            return nameViolation(Substring(key)).map { "name part \($0)" }
        case 2:
            if let problem = prefixViolation(parts[0]) { return "prefix part \(problem)" }
            return nameViolation(parts[1]).map { "name part \($0)" }
        default:
            return "must be a name with an optional DNS subdomain prefix and one '/' (e.g. 'example.com/MyName'); found \(parts.count - 1) '/'"
        }
    }

    /// Why `value` is not a valid label value, or nil when it is.
    public static func violation(ofValue value: String) -> String? {
        if value.isEmpty { return nil }
        return nameViolation(Substring(value), characters: valueCharacters)
    }

    /// The problems of one label, each ready to print: `label key "K": …`, `label value "V" of key "K": …`.
    public static func problems(key: String, value: String) -> [String] {
        [keyProblem(key), valueProblem(value, key: key)].compactMap { $0 }
    }

    /// `label key "K": why`, or nil when the key is valid.
    public static func keyProblem(_ key: String) -> String? {
        violation(ofKey: key).map { "label key \"\(VisibleText.escaped(key))\": \($0)" }
    }

    /// `label value "V" of key "K": why`, or nil when the value is valid.
    public static func valueProblem(_ value: String, key: String) -> String? {
        violation(ofValue: value).map { "label value \"\(VisibleText.escaped(value))\" of key \"\(VisibleText.escaped(key))\": \($0)" }
    }

    /// The rule of a key's name part and of a value: 1–63 of `[A-Za-z0-9._-]`, alphanumeric at both ends.
    static func nameViolation(_ name: Substring, characters: String = nameCharacters) -> String? {
        if name.isEmpty { return "must be non-empty" }
        let length = name.utf8.count
        if length > maximumNameLength { return "must be no more than \(maximumNameLength) characters (it has \(length))" }
        let bytes = Array(name.utf8)
        let inside = bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
        guard inside, isAlphanumeric(bytes[0]), isAlphanumeric(bytes[bytes.count - 1]) else { return characters }
        return nil
    }

    /// The rule of a key's prefix: a lowercase RFC 1123 subdomain of at most 253 bytes.
    static func prefixViolation(_ prefix: Substring) -> String? {
        if prefix.isEmpty { return "must be non-empty" }
        let length = prefix.utf8.count
        if length > maximumPrefixLength { return "must be no more than \(maximumPrefixLength) characters (it has \(length))" }
        for part in prefix.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            let bytes = Array(part)
            let valid =
                !bytes.isEmpty && bytes.allSatisfy { isLowercaseAlphanumeric($0) || $0 == UInt8(ascii: "-") }
                && isLowercaseAlphanumeric(bytes[0]) && isLowercaseAlphanumeric(bytes[bytes.count - 1])
            if !valid {
                return "must be a lowercase RFC 1123 subdomain: lower case alphanumeric characters, '-' or '.', "
                    + "and must start and end with an alphanumeric character (e.g. 'example.com')"
            }
        }
        return nil
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowercaseAlphanumeric(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    static func isLowercaseAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}
