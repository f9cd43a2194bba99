import CKukeSys
import Glibc
import KukeEngine

/// Runs one program (`ProcessSpawn`), its input and output through unlinked temp files (so a
/// chatty plugin never blocks on a full pipe), and waits for it. Only `kuke delete --cascade`
/// runs programs: the CNI plugins, whose protocol is a process per call.
enum PluginProcess {
    struct Result {
        var status: Int32
        var output: String
        var errors: String
    }

    static func run(_ executable: String, arguments: [String] = [], environment: [String], input: String) throws(HostError) -> Result {
        let files = try (0..<3).map { _ throws(HostError) in try temporaryFile() }
        defer { for fd in files { close(fd) } }
        let (stdinFD, stdoutFD, stderrFD) = (files[0], files[1], files[2])
        let bytes = Array(input.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(stdinFD, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError.hostError("\(executable): writing its input failed", errno)
            }
            written += count
        }
        lseek(stdinFD, 0, SEEK_SET)

        let spawned = ProcessSpawn.spawn(
            [executable] + arguments, environment: environment, searchPath: false, stdin: .descriptor(stdinFD), stdout: .descriptor(stdoutFD),
            stderr: .descriptor(stderrFD))
        let pid: pid_t
        switch spawned {
        case .success(let child): pid = child
        case .failure(let error): throw HostError("\(executable): spawn failed: \(error)", errno: error)
        }
        let exit = ProcessSpawn.wait(pid).status
        return Result(status: exit, output: contents(of: stdoutFD), errors: contents(of: stderrFD))
    }

    /// An anonymous file in /tmp (`O_TMPFILE`), gone when closed.
    static func temporaryFile() throws(HostError) -> Int32 {
        let fd = open("/tmp", O_RDWR | O_CLOEXEC | CKUKE_O_TMPFILE, 0o600)
        guard fd >= 0 else { throw SystemError.hostError("/tmp: creating a temporary file failed", errno) }
        return fd
    }

    static func contents(of fd: Int32) -> String {
        lseek(fd, 0, SEEK_SET)
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            data += buffer[..<count]
        }
        return String(decoding: data, as: UTF8.self)
    }
}
