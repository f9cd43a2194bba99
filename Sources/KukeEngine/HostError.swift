/// A failure of the host: what was attempted, on what, and what the kernel said.
///
/// `description` reads like `bridge "kuke-main-blog": create failed: File exists (EEXIST)`.
public struct HostError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errno name (`EEXIST`), when the failure came from a system call.
    public var code: String?
    public var message: String

    public init(_ message: String, code: String? = nil) {
        self.message = message
        self.code = code
    }

    public var description: String { message }
}
