/// Scalars for the fields of the schema that hold numbers, units, sizes, ports, addresses and
/// selectors: the edges of 64-bit arithmetic and of each field's range, YAML 1.1's other
/// number forms, and numbers of any length built from the bytes.
enum HostileValues {
    static let edgeNumbers = [
        "0", "1", "-1", "-0", "9", "10", "99", "1000", "10000", "10001", "65535", "65536", "2147483647", "2147483648", "4294967295",
        "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
        "18446744073709551616", "18446744073709552", "18446744073709551", "9223372036854775", "99999999999999999999999", "1000000",
        "1000000000", "1000000001", "1e400", "-1e400", "1e-400", "1e18", "9.2e18", ".inf", "-.inf", ".nan", "0x7FFFFFFFFFFFFFFF",
        "0xFFFFFFFFFFFFFFFF", "0o777", "0b101", "07", "08", "1_000", "1:30", "1:30.5", "0.5", "1.5", "1.999999999", "0.999999999",
        "9.999999999", "0.000000001", "0.0000000001", "1.", ".5", "+5", "00000000000000000000001", "1.25", "7.5", "8", "16",
    ]
    static let quantityUnits = [
        "", "", "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E", "m", "KB", "MB", "GB", "TB", "B", "s", "ms", "h", "Eii",
        "i", "e3", "mi",
    ]
    static let pageUnits = ["KB", "MB", "GB", "TB", "kB", "M", "", "GB", "MB"]
    static let words = ["max", "min", "", "-", "true", "null", "~", "yes", "Max", "MAX", "1,5", "5%", "0x", "∞", "１", "٣", "1 000"]

    /// A number: an edge, or digits of any length with a fraction, a sign or an exponent.
    static func number(_ choices: inout Choices) -> String {
        if choices.chance(40) { return choices.pick(edgeNumbers) }
        var text = choices.chance(10) ? choices.pick(["-", "+"]) : ""
        text += choices.digits(1 + choices.below(choices.chance(20) ? 60 : 24))
        if choices.chance(30) { text += "." + choices.digits(choices.below(14)) }
        if choices.chance(8) { text += choices.pick(["e", "E"]) + choices.pick(["", "-", "+"]) + choices.digits(1 + choices.below(4)) }
        return text
    }

    /// A quantity as written in `spec.resources`: a number with a unit, or a word.
    static func quantity(_ choices: inout Choices) -> String {
        if choices.chance(10) { return choices.pick(words) }
        return number(&choices) + choices.pick(quantityUnits)
    }

    /// A huge page size: `2MB`, `99999999999TB`, `1024GB`.
    static func pageSize(_ choices: inout Choices) -> String {
        if choices.chance(20) { return choices.pick(["2MB", "1GB", "64KB", "1024GB", "1025GB", "16GB", "02MB", "0MB"]) }
        return number(&choices) + choices.pick(pageUnits)
    }

    /// A block device number: `8:0`, or a hostile one.
    static func device(_ choices: inout Choices) -> String {
        if choices.chance(50) { return choices.pick(["8:0", "259:1", "0:0", "8:16", "8:", ":0", "sda", "8:0:1", "4294967295:4294967295"]) }
        return number(&choices) + ":" + number(&choices)
    }

    /// An IPv4 network in CIDR form with hostile octets and prefix lengths.
    static func cidr(_ choices: inout Choices) -> String {
        if choices.chance(40) {
            return choices.pick(["10.0.0.0/8", "10.88.0.0/16", "0.0.0.0/0", "255.255.255.255/32", "10.0.0.0/33", "10.0.0.0/-1", "1.2.3.4"])
        }
        let octets = (0..<4).map { _ in choices.chance(70) ? String(choices.below(256)) : number(&choices) }
        return octets.joined(separator: ".") + "/" + (choices.chance(60) ? String(choices.below(34)) : number(&choices))
    }

    /// A label key or value, or a selector's: valid, or hostile.
    static func label(_ choices: inout Choices) -> String {
        if choices.chance(50) { return choices.pick(["team", "web", "kukeon.io/hostname", "example.com/tier", "a", "", "x-y_z.1"]) }
        if choices.chance(50) { return number(&choices) }
        return choices.pick(["Bad Key", "a/b/c", "-a", "a-", String(repeating: "a", count: 64), "é", "a\\nb", "/x", "x/"])
    }

    /// `text` as YAML writes a scalar: plain, single-quoted or double-quoted.
    static func scalar(_ text: String, _ choices: inout Choices) -> String {
        switch choices.below(4) {
        case 0: return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
        case 1: return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        default: return text.isEmpty ? "''" : text
        }
    }
}
