import Glibc

/// The labels every host has without configuration: `kukeon.io/hostname` (the kernel's node
/// name, as `uname -n` prints it) and `kukeon.io/arch` (the machine, named as Go and
/// Kubernetes name architectures: `amd64`, `arm64`, …).
public enum HostIdentity {
    public static let hostnameLabel = "kukeon.io/hostname"
    public static let archLabel = "kukeon.io/arch"

    public static func builtinLabels() -> [String: String] {
        var name = utsname()
        guard uname(&name) == 0 else { return [:] }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return [hostnameLabel: text(name.nodename), archLabel: goArch(text(name.machine))]
    }

    /// `uname -m` as GOARCH names it.
    static func goArch(_ machine: String) -> String {
        switch machine {
        case "x86_64": "amd64"
        case "aarch64", "arm64": "arm64"
        case "i386", "i486", "i586", "i686": "386"
        case let arm where arm.hasPrefix("armv"): "arm"
        case "ppc64le": "ppc64le"
        case "s390x": "s390x"
        case "riscv64": "riscv64"
        default: machine
        }
    }
}
