import Foundation
import Glibc
import KukeEngine
import KukeHost
import Synchronization

/// The fallback where inotify is unavailable (or with `--poll INTERVAL`): every interval,
/// a fingerprint of the manifest files (path, size, modification time, inode) is compared
/// with the previous one.
public final class PollingWatcher: ManifestWatcher {
    let interval: Double
    let task = Mutex<Task<Void, Never>?>(nil)

    public init(interval: Double) { self.interval = interval }

    public func start(roots: [String], sink: @escaping @Sendable (WatchTrigger) -> Void) throws {
        let interval = interval
        let poller = Task {
            var previous = Self.fingerprint(roots)
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(interval))
                let current = Self.fingerprint(roots)
                if current != previous { sink(.filesChanged) }
                previous = current
            }
        }
        task.withLock { $0 = poller }
    }

    public func stop() {
        task.withLock { $0?.cancel() }
    }

    static func fingerprint(_ roots: [String]) -> [String] {
        let loader = ManifestLoader.local(readStandardInput: { Data() })
        return roots.flatMap { root in
            ((try? loader.files(for: root)) ?? []).map { path in
                var info = stat()
                guard stat(path, &info) == 0 else { return path }
                return "\(path) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ino)"
            }
        }
    }
}
