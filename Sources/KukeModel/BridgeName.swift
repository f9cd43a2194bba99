/// The scheme that names a space's Linux bridge.
///
/// `kuke-<realm>-<space>` when it fits the kernel's 15-byte limit (IFNAMSIZ - 1);
/// otherwise `kuke-` + the first three bytes of `<realm>-<space>` (without a
/// trailing `-` or `.`) + `-` + six hex
/// digits (24 bits) of FNV-1a-64 over `<realm>/<space>`. Always 15 bytes or fewer,
/// always `[a-z0-9.-]`, and deterministic. The name chosen at creation is recorded
/// in the conflist and in status; it is read back from status (the conflist is
/// rewritten to match it) and never recomputed for an existing space.
public enum BridgeName {
    /// The kernel's limit on interface names, without the terminating NUL.
    public static let maximumLength = 15
    public static let prefix = "kuke-"

    /// The bridge name for a new space.
    ///
    /// - Parameter attempt: 0 for the scheme's name; a higher number for the short form with the
    ///   hash taken over `<realm>/<space>#<attempt>`, for a space that must leave a name another
    ///   space holds (a duplicated record repaired by `kuke init --force-regenerate-cni`).
    public static func make(for space: SpaceID, attempt: Int = 0) -> String {
        let full = prefix + space.networkName
        if full.utf8.count <= maximumLength && attempt == 0 { return full }
        var head = String(space.networkName.prefix(3))
        while head.hasSuffix("-") || head.hasSuffix(".") { head.removeLast() }
        let salt = attempt == 0 ? "" : "#\(attempt)"
        let hash = fnv1a64(Array("\(space.realm)/\(space.name)\(salt)".utf8)) & 0xFF_FFFF
        let hex = String(hash, radix: 16).leftPadded(to: 6)
        return prefix + head + "-" + hex
    }

    /// Why `name` cannot be used as an interface name, or nil when it can.
    public static func violation(of name: String) -> String? {
        if name.isEmpty { return "is empty" }
        let length = name.utf8.count
        if length > maximumLength {
            return "is \(length) bytes long; Linux interface names hold at most \(maximumLength) (ERANGE)"
        }
        if name == "." || name == ".." { return "is not a valid interface name" }
        if name.unicodeScalars.contains(where: { $0 == "/" || $0 == ":" || $0.properties.isWhitespace || $0.value < 0x20 }) {
            return "contains a character Linux does not allow in interface names"
        }
        return nil
    }

    /// FNV-1a, 64-bit: small, stable across releases and platforms.
    public static func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
