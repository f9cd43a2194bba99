import CInotifyTools
import Foundation
import Glibc
import KukeEngine
import Synchronization

/// File events through libinotifytools, confined to one dedicated thread.
///
/// libinotifytools keeps all its state process-wide (one inotify fd, global path tables,
/// a static event buffer overwritten by the next call) and is not thread-safe, so every
/// call to it happens on this type's thread, and only one instance may run per process.
/// The thread blocks in libinotifytools until an event comes (no timed wake-ups): `stop()`
/// wakes it through a private directory it also watches, by creating a file there.
///
/// Every real directory reachable from the roots is watched, following symbolic links
/// (git-sync's `current -> rev` flip is seen as a rename in the link's parent directory,
/// after which the new target is watched). New directories are watched as they appear;
/// the reload that follows each event scans them, so files created before the watch was
/// added are not missed.
public final class InotifyWatcher: ManifestWatcher {
    static let mask = Int32(
        IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
    static let running = Mutex(false)

    let stopping = Mutex(false)
    /// True while the thread runs; `stop()` waits only for a thread that is running.
    let running = Mutex(false)
    let done = DispatchSemaphore(value: 0)
    /// The private directory whose events only wake the thread (see `stop()`).
    let wakeDirectory = Mutex<String?>(nil)

    public init() {}

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    public func start(roots: [String], sink: @escaping @Sendable (WatchTrigger) -> Void) throws {
        let claimed = Self.running.withLock { running in
            if running { return false }
            running = true
            return true
        }
        guard claimed else { throw StartError(description: "libinotifytools is already in use in this process") }
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        // A thread of its own, not a task or a pool's: it blocks in read(2) for as long as the
        // watcher runs (the cooperative pool must never block), and libinotifytools keeps
        // process-wide state that only this thread touches, from initialize to cleanup.
        let thread = Thread { [self] in
            defer {
                inotifytools_cleanup()
                Self.running.withLock { $0 = false }
                done.signal()
            }
            guard inotifytools_initialize() != 0 else {
                failure.withLock { $0 = "inotify: initialize failed: \(String(cString: strerror(inotifytools_error())))" }
                ready.signal()
                return
            }
            var template = Array("/tmp/kuke-inotify-wake.XXXXXX".utf8CString)
            guard let created = mkdtemp(&template), inotifytools_watch_file(created, Int32(IN_CREATE)) != 0 else {
                failure.withLock { $0 = "inotify: cannot watch a private wake-up directory in /tmp: \(String(cString: strerror(errno)))" }
                ready.signal()
                return
            }
            let wake = String(cString: created)
            wakeDirectory.withLock { $0 = wake }
            defer {
                unlink(wake + "/stop")
                rmdir(wake)
            }
            var watched = Set<String>()
            watchTrees(roots, watched: &watched)
            ready.signal()
            loop(roots: roots, wake: wake, watched: &watched, sink: sink)
        }
        thread.name = "kuke-inotify"
        thread.start()
        ready.wait()
        if let message = failure.withLock({ $0 }) {
            done.wait()
            throw StartError(description: message)
        }
        running.withLock { $0 = true }
    }

    public func stop() {
        stopping.withLock { $0 = true }
        guard running.withLock({ $0 }) else { return }
        if let wake = wakeDirectory.withLock({ $0 }) {
            let fd = open(wake + "/stop", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
        }
        done.wait()
        done.signal()  // a second stop() returns at once
    }

    func loop(roots: [String], wake: String, watched: inout Set<String>, sink: @Sendable (WatchTrigger) -> Void) {
        while !stopping.withLock({ $0 }) {
            guard let event = inotifytools_next_event(-1) else { continue }  // blocks until an event
            if let path = inotifytools_filename_from_wd(event.pointee.wd), Self.trimmed(String(cString: path)) == wake { continue }
            let mask = event.pointee.mask
            if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                watchTrees(roots, watched: &watched)
                sink(.overflow)
                continue
            }
            if mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0, let path = inotifytools_filename_from_wd(event.pointee.wd) {
                watched.remove(Self.trimmed(String(cString: path)))
            }
            let name =
                event.pointee.len > 0
                ? String(cString: UnsafeRawPointer(event).advanced(by: MemoryLayout<inotify_event>.size).assumingMemoryBound(to: CChar.self)) : ""
            let selfEvent = mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF) != 0
            guard selfEvent || !name.hasPrefix(".") else { continue }  // hidden files, editor swap files
            var isLink = false
            if let directory = inotifytools_filename_from_wd(event.pointee.wd) {
                var info = stat()
                isLink = lstat(Self.trimmed(String(cString: directory)) + "/" + name, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK
            }
            let isDirectory = mask & UInt32(IN_ISDIR) != 0
            let structural = mask & UInt32(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) != 0
            if selfEvent || (structural && (isDirectory || isLink)) {
                // A new directory, or a link flipped onto a new target: watch what is now reachable.
                watchTrees(roots, watched: &watched)
            }
            // A name that went away (deleted or moved out) can no longer be inspected: it may have been a link or a directory.
            let removed = mask & UInt32(IN_DELETE | IN_MOVED_FROM) != 0
            if selfEvent || isDirectory || isLink || removed || ManifestLoader.isManifestName(name) {
                sink(.filesChanged)
            }
        }
    }

    /// Watches every real directory under the roots not watched yet (one watch each).
    func watchTrees(_ roots: [String], watched: inout Set<String>) {
        var visited = Set<String>()
        for root in roots {
            watchDirectory(root, watched: &watched, visited: &visited)
            // A root that is itself a link (DIR/current) flips by a rename in its parent: watch the parent too.
            var info = stat()
            let parent = (root as NSString).deletingLastPathComponent
            if lstat(root, &info) == 0, info.st_mode & S_IFMT == S_IFLNK, !watched.contains(parent), inotifytools_watch_file(parent, Self.mask) != 0 {
                watched.insert(parent)
            }
        }
    }

    func watchDirectory(_ path: String, watched: inout Set<String>, visited: inout Set<String>) {
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard visited.insert(real).inserted else { return }
        var info = stat()
        guard stat(real, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return }
        if !watched.contains(real), inotifytools_watch_file(real, Self.mask) != 0 {
            watched.insert(real)
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: real) else { return }
        for name in names where !name.hasPrefix(".") {
            watchDirectory("\(real)/\(name)", watched: &watched, visited: &visited)
        }
    }

    static func trimmed(_ path: String) -> String {
        path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }
}
