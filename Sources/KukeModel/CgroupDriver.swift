/// Who makes the realm and space cgroups (`cgroupDriver` in the host configuration,
/// `--cgroup-driver`, `KUKEON_CGROUP_DRIVER`).
public enum CgroupDriver: String, Sendable, CaseIterable {
    /// kuke makes directories in the cgroup2 filesystem: `<root>/kukeon/<realm>/<space>`, limits
    /// written into the interface files.
    case cgroupfs
    /// systemd makes them as slice units, through its D-Bus API: `kukeon.slice`,
    /// `kukeon-<realm>.slice`, `kukeon-<realm>-<space>.slice`, limits set as unit properties.
    case systemd

    public static let `default` = CgroupDriver.cgroupfs

    /// The problem with a configured value, nil when it names a driver.
    public static func problem(_ text: String) -> String? {
        CgroupDriver(rawValue: text) == nil
            ? "\"\(text)\" is not a cgroup driver; use \(allCases.map(\.rawValue).joined(separator: " or "))" : nil
    }
}

/// The names of kuke's slice units, escaped as `systemd-escape` does, so a `-` inside a realm's
/// or a space's name never makes a level of its own (`my-app` is `my\x2dapp`): a `-` in a slice
/// name means "child of the slice named by what comes before it".
public enum SliceName {
    /// The slice that holds every realm.
    public static let top = "kukeon.slice"

    public static func realm(_ realm: String) -> String { "kukeon-\(escape(realm)).slice" }
    public static func space(_ id: SpaceID) -> String { "kukeon-\(escape(id.realm))-\(escape(id.name)).slice" }

    /// `systemd-escape STRING`: ASCII letters, digits, `:`, `_` and `.` (but a leading `.`) kept,
    /// `/` as `-`, every other byte as `\xNN`.
    public static func escape(_ text: String) -> String {
        var out = ""
        for (index, byte) in text.utf8.enumerated() {
            let letterOrDigit = (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
            if letterOrDigit || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "_") || (byte == UInt8(ascii: ".") && index > 0) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else if byte == UInt8(ascii: "/") {
                out += "-"
            } else {
                out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return out
    }

    /// The unit a cgroup path ends in (`…/kukeon-main.slice` → `kukeon-main.slice`), nil when
    /// its last component is not a slice.
    public static func unit(ofPath path: String) -> String? {
        guard let last = path.split(separator: "/").last, last.hasSuffix(".slice") else { return nil }
        return String(last)
    }
}
