import ArgumentParser

/// kuke's exit codes: 0 all succeeded, 1 some resource failed (or `diff` found
/// differences), 2 invalid input or usage, with nothing changed.
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let failed: Int32 = 1
    public static let invalid: Int32 = 2
    /// `apply --detailed-exitcode`: every resource succeeded and something changed.
    public static let changed: Int32 = 3
}

// A command that has printed what it had to say ends with one of these by throwing
// ArgumentParser's `ExitCode(status)`.
