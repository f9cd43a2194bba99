import Foundation
import Glibc
import KukeHost

/// Runs a program (`ProcessSpawn`, the spawn kuke itself uses) and waits for it; output goes through temp files,
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

        let spawned = ProcessSpawn.spawn(
            arguments, environment: environment.map { "\($0.key)=\($0.value)" }, searchPath: true, stdin: .file(inPath), stdout: .file(outPath),
            stderr: .file(errPath))
        guard case .success(let pid) = spawned else {
            return Result(status: 127, stdout: "", stderr: "spawn \(arguments[0]) failed: \(spawned)")
        }
        let exit = ProcessSpawn.wait(pid)
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Result(status: exit.status, stdout: out, stderr: err, cpuSeconds: exit.cpuSeconds, maxResidentKiB: exit.maxResidentKiB)
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
            while true {
                if let exit = ProcessSpawn.poll(pid) {
                    status = exit
                    return exit
                }
                if Date() >= deadline {
                    kill(pid, SIGKILL)
                    _ = ProcessSpawn.wait(pid)
                    status = -1
                    return -1
                }
                usleep(10_000)
            }
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
        let spawned = ProcessSpawn.spawn(
            arguments, environment: environment.map { "\($0.key)=\($0.value)" }, searchPath: true, stdin: .file("/dev/null"),
            stdout: .file(directory.appendingPathComponent("out").path), stderr: .file(directory.appendingPathComponent("err").path))
        guard case .success(let pid) = spawned else { return nil }
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
