import Foundation
import Glibc

/// Runs a program with posix_spawn and waits for it; output goes through temp files,
/// so a chatty child can never deadlock on a full pipe. (Foundation.Process has been
/// seen to hang in waitUntilExit() inside a namespace; posix_spawn and waitpid do not.)
public enum Subprocess {
    public struct Result: Sendable, CustomStringConvertible {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// User plus system CPU time of the child, from `wait4`.
        public var cpuSeconds: Double = 0
        /// The child's peak resident set size, from `wait4`.
        public var maxResidentKiB: Int = 0
        public var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
    }

    /// Runs `arguments[0]` (searched in PATH) with the rest as arguments.
    public static func run(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment, stdin: String? = nil) -> Result
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-spawn-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outPath = directory.appendingPathComponent("out").path
        let errPath = directory.appendingPathComponent("err").path
        let inPath = directory.appendingPathComponent("in").path
        _ = FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
        guard spawned == 0 else {
            return Result(status: 127, stdout: "", stderr: "spawn \(arguments[0]) failed: \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
        return Result(status: exitStatus, stdout: out, stderr: err, cpuSeconds: cpu, maxResidentKiB: Int(usage.ru_maxrss))
    }

    /// A program started in the background with its output going to files.
    public final class Running: @unchecked Sendable {
        // Safe to share: `pid` and the paths never change after init; `status` is only set by `wait`, from one test.
        public let pid: pid_t
        let directory: URL
        var status: Int32?

        init(pid: pid_t, directory: URL) {
            self.pid = pid
            self.directory = directory
        }

        /// What the program wrote to stderr so far.
        public var stderr: String { (try? String(contentsOf: directory.appendingPathComponent("err"), encoding: .utf8)) ?? "" }
        public var stdout: String { (try? String(contentsOf: directory.appendingPathComponent("out"), encoding: .utf8)) ?? "" }

        public func signal(_ signal: Int32) { kill(pid, signal) }

        /// Waits for the exit, up to `timeout` seconds (then kills it); the exit status.
        public func wait(timeout: Double) -> Int32 {
            if let status { return status }
            let deadline = Date().addingTimeInterval(timeout)
            var raw: Int32 = 0
            while waitpid(pid, &raw, WNOHANG) == 0 {
                if Date() >= deadline {
                    kill(pid, SIGKILL)
                    _ = waitpid(pid, &raw, 0)
                    status = -1
                    return -1
                }
                usleep(10_000)
            }
            let exit = (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
            status = exit
            return exit
        }

        deinit {
            if status == nil { _ = wait(timeout: 0) }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Starts `arguments` in the background.
    public static func start(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) -> Running? {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-spawn-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory.appendingPathComponent("out").path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, directory.appendingPathComponent("err").path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp) == 0 else { return nil }
        return Running(pid: pid, directory: directory)
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` seconds pass; whether it held.
    public static func waitUntil(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
