import SystemPackage

/// A failure of the host: what was attempted, on what, and what the kernel said.
///
/// `description` reads like `bridge "kuke-main-blog": create failed: File exists (EEXIST)`.
/// The errno is a typed value (swift-system's `Errno`), so a caller matches it by name:
/// `catch Errno.operationNotSupportedByDevice` (ENODEV) or `where error.errno == .fileExists`.
public struct HostError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errno, when the failure came from a system call (or is best told by one).
    public var errno: Errno?
    public var message: String
    /// What fixes it, when a command or setting does (worded by a `HintWording`).
    public var hint: Hint?

    public init(_ message: String, errno: Errno? = nil, hint: Hint? = nil) {
        self.message = message
        self.errno = errno
        self.hint = hint
    }

    public var description: String { message }

    /// `catch Errno.fileExists` on a `throws(HostError)` call.
    public static func ~= (pattern: Errno, error: HostError) -> Bool { error.errno == pattern }
}
