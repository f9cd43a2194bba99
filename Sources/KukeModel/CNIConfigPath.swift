/// The rule for `spec.cniConfigPath`: an absolute directory with no `..` segment.
public enum CNIConfigPath {
    public struct Problem: Error, Sendable, Equatable {
        public var message: String
    }

    /// The path with empty and `.` segments and a trailing slash removed, or why it is refused.
    public static func normalize(_ path: String) -> Result<String, Problem> {
        if path.isEmpty { return .failure(Problem(message: "must not be empty")) }
        if path.contains("\0") { return .failure(Problem(message: "must not contain NUL")) }
        guard path.hasPrefix("/") else { return .failure(Problem(message: "must be an absolute path (start with \"/\")")) }
        let segments = path.split(separator: "/").filter { $0 != "." }
        if segments.contains("..") { return .failure(Problem(message: "must not contain \"..\" segments")) }
        return .success("/" + segments.joined(separator: "/"))
    }
}
