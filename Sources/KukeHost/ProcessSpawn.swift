import Glibc
import SystemPackage

/// posix_spawn and the wait for the child: the one place kuke, and its test support, start a
/// program (kuke itself only for the CNI plugins of `delete --cascade`).
public enum ProcessSpawn {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// A descriptor of the parent's, duplicated onto the stream.
        case descriptor(Int32)
        /// A file opened for the child (`O_RDONLY` for input; created and truncated for output).
        case file(String)
    }

    /// How a child ended, as a shell reports it, and what it used.
    public struct Exit: Sendable {
        /// The exit code, or 128 + the signal that killed it.
        public var status: Int32
        /// User plus system CPU time, from `wait4`.
        public var cpuSeconds: Double
        /// Peak resident set size, from `wait4`.
        public var maxResidentKiB: Int
    }

    /// Starts `arguments[0]` (looked up in PATH when `searchPath`) with `environment`
    /// (`KEY=VALUE` entries) and its streams set up as asked; the child's pid, or the errno
    /// posix_spawn gave.
    public static func spawn(
        _ arguments: [String], environment: [String], searchPath: Bool, stdin: Stream, stdout: Stream, stderr: Stream
    ) -> Result<pid_t, Errno> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .descriptor(let source): posix_spawn_file_actions_adddup2(&actions, source, fd)
            case .file(let path):
                let flags = fd == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC
                posix_spawn_file_actions_addopen(&actions, fd, path, flags, 0o600)
            }
        }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned =
            searchPath
            ? posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp) : posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        return spawned == 0 ? .success(pid) : .failure(Errno(rawValue: spawned))
    }

    /// Waits for `pid` to end (retrying on EINTR).
    public static func wait(_ pid: pid_t) -> Exit {
        var raw: Int32 = 0
        var usage = rusage()
        while wait4(pid, &raw, 0, &usage) < 0 && errno == EINTR {}
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
        return Exit(status: status(of: raw), cpuSeconds: cpu, maxResidentKiB: Int(usage.ru_maxrss))
    }

    /// The exit status of `pid` if it has ended (or cannot be waited for: 0), without waiting;
    /// nil while it runs.
    public static func poll(_ pid: pid_t) -> Int32? {
        var raw: Int32 = 0
        return waitpid(pid, &raw, WNOHANG) == 0 ? nil : status(of: raw)
    }

    /// A wait status as a shell reports it: the exit code, or 128 + the terminating signal.
    public static func status(of raw: Int32) -> Int32 {
        (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
    }
}
