import Glibc

/// A file of /proc or /sys (a sysctl, mountinfo, maps) read whole.
public enum ProcFile {
    /// The file read to its end (its size reads as 0, so it is read in chunks until EOF), nil
    /// when it cannot be opened or read.
    public static func read(_ path: String) -> String? {
        let fd = SystemError.retrying { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in SystemError.retrying { Glibc.read(fd, raw.baseAddress, raw.count) } }
            if count < 0 { return nil }
            if count == 0 { break }
            data.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: data, as: UTF8.self)
    }
}
