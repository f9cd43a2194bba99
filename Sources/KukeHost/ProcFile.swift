import Glibc

/// A file of /proc or /sys (a sysctl, mountinfo, maps) read whole.
public enum ProcFile {
    /// The file read to its end (its size reads as 0, so it is read in chunks until EOF), nil
    /// when it cannot be opened or read.
    public static func read(_ path: String) -> String? {
        (try? KernelFile.read(path, limit: Int.max)) ?? nil
    }
}
