import CKukeSys
import Glibc
import KukeEngine

/// Checks a network namespace path from a CNI cache entry before DEL is given it.
///
/// A bind-mounted namespace (`/run/netns/…`, what libcni callers and Podman use) is the
/// container's while it is mounted. `/proc/<pid>/ns/net` (what `ctr run --cni` caches) is the
/// namespace of whatever process has that PID now, and PIDs are reused: it is taken as the
/// container's only when that process started before the cache entry was written (its start
/// time, `/proc/<pid>/stat` field 22, against the entry's mtime). The runtime wrote the entry
/// after ADD, while the container's process lived; a process that got the PID after the
/// container's exited started later. (A wall clock stepped back between ADD and now could let a
/// reused PID pass; stepped forward, it only makes DEL run without a namespace, which is safe.)
enum NetworkNamespaceProbe {
    /// The check for `path`, cached in the entry at `cachePath`.
    static func check(_ path: String, cachePath: String) -> NamespaceCheck {
        let magic = ckuke_filesystem_magic(path)
        guard magic >= 0 else {
            let code = Int32(-magic)
            return code == ENOENT || code == ESRCH ? .gone : .foreign("it cannot be inspected: \(SystemError.text(code))")
        }
        // What is left where a namespace was mounted (an empty file) is no namespace.
        guard magic == Self.namespaceFilesystemMagic else { return .gone }
        guard let pid = processID(in: path) else { return .usable }
        var entry = stat()
        guard stat(cachePath, &entry) == 0 else { return .usable }
        let written = Double(entry.st_mtim.tv_sec) + Double(entry.st_mtim.tv_nsec) / 1e9
        guard let stat = ProcFile.read("/proc/\(pid)/stat"), let ticks = startTicks(stat: stat) else { return .gone }
        let started = bootTime() + Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
        return verdict(pid: pid, started: started, written: written)
    }

    /// nsfs, the filesystem of namespace files (`NSFS_MAGIC`).
    static let namespaceFilesystemMagic = 0x6e73_6673

    /// Whether the process with `pid`, started at `started`, can be the one a runtime's cache
    /// entry written at `written` names (both seconds since the epoch).
    static func verdict(pid: Int32, started: Double, written: Double) -> NamespaceCheck {
        guard started > written else { return .usable }
        return .foreign(
            "PID \(pid) now belongs to a process started \(Int((started - written).rounded(.up)))s after the entry was written: the PID was reused")
    }

    /// The PID of `/proc/<pid>/ns/net` (or `/proc/<pid>/task/<tid>/ns/net`), nil for another path.
    static func processID(in path: String) -> Int32? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[0].isEmpty, parts[1] == "proc", parts.suffix(2) == ["ns", "net"],
            parts.count == 5 || (parts.count == 7 && parts[3] == "task")
        else { return nil }
        return Int32(parts[2]).flatMap { $0 > 0 ? $0 : nil }
    }

    /// Field 22 of `/proc/<pid>/stat`, the start time in clock ticks since boot (the command
    /// name, field 2, is parenthesized and may hold spaces and parentheses: fields are counted
    /// after its last `)`).
    static func startTicks(stat: String) -> UInt64? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// When the system booted, in seconds since the epoch (the realtime clock minus the boot-time
    /// clock, which counts from boot, suspend included, as process start times do).
    static func bootTime() -> Double {
        var now = timespec()
        var sinceBoot = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        clock_gettime(CLOCK_BOOTTIME, &sinceBoot)
        return Double(now.tv_sec - sinceBoot.tv_sec) + Double(now.tv_nsec - sinceBoot.tv_nsec) / 1e9
    }
}
