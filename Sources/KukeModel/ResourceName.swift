/// The naming rule shared by realms and spaces.
///
/// Names become path segments, file names, cgroup directories and part of bridge
/// names, so the rule is strict: 1–63 characters, `[A-Za-z0-9]` at both ends and
/// `[A-Za-z0-9.-]` inside (the seed's own example is `mySpace`). Names that would collide
/// with cgroup interface files (`cpu.max`, `cgroup.procs`, …) or with kuke's own files are
/// reserved. Two names that differ only in case are a conflict (see `conflictKey`).
public enum ResourceName {
    /// The longest name accepted, as for a DNS label.
    public static let maximumLength = 63

    /// Prefixes of the files the kernel puts in every cgroup directory.
    static let cgroupInterfacePrefixes = [
        "cgroup.", "cpu.", "cpuset.", "io.", "memory.", "pids.", "hugetlb.", "rdma.", "misc.", "irq.",
    ]

    /// Names a space cannot take because kuke keeps a file of that name in the realm's directory.
    static let reservedSpaceNames: Set<String> = ["realm.yaml"]

    /// Why `name` is not a valid realm or space name, or nil when it is.
    public static func violation(of name: String, isSpace: Bool = false) -> String? {
        if name.isEmpty { return "must not be empty" }
        for scalar in name.unicodeScalars {
            if let problem = characterProblem(scalar) { return problem }
        }
        let count = name.utf8.count
        if count > maximumLength { return "is \(count) characters long; at most \(maximumLength) are allowed" }
        let bytes = Array(name.utf8)
        if !isAlphanumeric(bytes[0]) { return "must start with a letter or a digit" }
        if !isAlphanumeric(bytes[bytes.count - 1]) { return "must end with a letter or a digit" }
        if let prefix = cgroupInterfacePrefixes.first(where: name.hasPrefix) {
            return "is reserved: names starting with \"\(prefix)\" collide with cgroup interface files"
        }
        if isSpace && reservedSpaceNames.contains(name) { return "is reserved: kuke keeps a file of that name" }
        return nil
    }

    static func characterProblem(_ scalar: Unicode.Scalar) -> String? {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "-": return nil
        case "_": return "must not contain \"_\" (use \"-\")"
        case "/": return "must not contain \"/\""
        case "\0": return "must not contain NUL"
        default:
            let code = "U+" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
            if scalar.properties.generalCategory == .control { return "must not contain control character \(code)" }
            if scalar.properties.isWhitespace { return "must not contain whitespace (\(code))" }
            return "must not contain \"\(scalar)\" (\(code)); only A-Z, a-z, 0-9, \".\" and \"-\" are allowed"
        }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    /// The key under which names that differ only in case meet (`mySpace` and `myspace`): two
    /// such realms, or two such spaces of one realm, would be told apart by nothing an operator
    /// types or reads, so the later one is a `NameConflict`.
    public static func conflictKey(_ name: String) -> String { name.lowercased() }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
