import CKukeSys
import Glibc
import KukeEngine
import SystemPackage

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
        var files: [FileDescriptor] = []
        defer { for file in files { try? file.close() } }
        for _ in 0..<3 { files.append(try temporaryFile()) }
        let (stdinFile, stdoutFile, stderrFile) = (files[0], files[1], files[2])
        do {
            _ = try stdinFile.writeAll(input.utf8)
            _ = try stdinFile.seek(offset: 0, from: .start)
        } catch {
            throw SystemError.hostError("\(executable): writing its input failed", (error as? Errno)?.rawValue ?? EIO)
        }

        let spawned = ProcessSpawn.spawn(
            [executable] + arguments, environment: environment, searchPath: false, stdin: .descriptor(stdinFile.rawValue),
            stdout: .descriptor(stdoutFile.rawValue), stderr: .descriptor(stderrFile.rawValue))
        let pid: pid_t
        switch spawned {
        case .success(let child): pid = child
        case .failure(let error): throw HostError("\(executable): spawn failed: \(error)", errno: error)
        }
        let exit = ProcessSpawn.wait(pid).status
        return Result(status: exit, output: contents(of: stdoutFile), errors: contents(of: stderrFile))
    }

    /// An anonymous file in /tmp (`O_TMPFILE`), gone when closed.
    static func temporaryFile() throws(HostError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(
                "/tmp", .readWrite, options: [.closeOnExec, FileDescriptor.OpenOptions(rawValue: CKUKE_O_TMPFILE)],
                permissions: .ownerReadWrite)
        } catch {
            throw SystemError.hostError("/tmp: creating a temporary file failed", (error as? Errno)?.rawValue ?? EIO)
        }
    }

    /// What the program wrote to `file` (read from its start; what cannot be read is left out).
    static func contents(of file: FileDescriptor) -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        guard (try? file.seek(offset: 0, from: .start)) != nil else { return "" }
        while let count = try? buffer.withUnsafeMutableBytes({ try file.read(into: $0) }), count > 0 {
            data += buffer[..<count]
        }
        return String(decoding: data, as: UTF8.self)
    }
}
