import Foundation
import Glibc
import KukeEngine
import KukeHost
import KukeModel
import KukeTestSupport
import ServiceLifecycle
import Synchronization
import Testing

@testable import KukeWatch

/// A watcher whose start fails, as inotify does when its limits are reached.
struct UnavailableWatcher: ManifestWatcher {
    struct Unavailable: Error, CustomStringConvertible { var description: String { "inotify: too many open files" } }
    func start(roots: [String], sink: @escaping @Sendable (WatchTrigger) -> Void) throws { throw Unavailable() }
    func stop() {}
}

/// A watcher that records its lifecycle.
final class RecordingWatcher: ManifestWatcher {
    let state = Mutex((started: false, stopped: false))
    func start(roots: [String], sink: @escaping @Sendable (WatchTrigger) -> Void) throws { state.withLock { $0.started = true } }
    func stop() { state.withLock { $0.stopped = true } }
}

@Suite("Watch: service")
struct WatchServiceTests {
    @Test("when file watching cannot start, the service polls instead; graceful shutdown stops it")
    func fallback() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-service-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n".write(toFile: "\(directory)/realm.yaml", atomically: true, encoding: .utf8)
        let host = FakeHost()
        let layout = HostLayout(runPath: "/run", cniConfigDirectory: "/cni", cgroupRoot: "/cg", subnetPool: IPv4Subnet("10.88.0.0/16")!)
        let log = LogSink()
        let polling = RecordingWatcher()
        let service = WatchService(
            engine: Engine(layout: layout, drivers: host.drivers), options: WatchOptions(roots: [directory]), logger: log.logger,
            watcher: UnavailableWatcher(), fallback: polling, notifier: SystemdNotifier(environment: [:]))
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: log.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let deadline = ContinuousClock.now + .seconds(10)
            while !log.all.contains(where: { $0.contains("watching") }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(polling.state.withLock { $0 } == (true, true))
        #expect(log.count("falling back to polling") == 1)
        #expect(host.state.withLock { $0.files["/run/main/realm.yaml"] } != nil)  // the first pass ran
        #expect(log.count("stopped") == 1)
    }
}

@Suite("Watch: pass thread")
struct PassThreadTests {
    @Test("passes run one at a time, in order, on one thread of their own, never on the caller's")
    func dedicated() async throws {
        let passes = PassThread()
        let threads = await withTaskGroup(of: UInt.self) { group in
            for _ in 0..<8 { group.addTask { (try? await passes.run { UInt(pthread_self()) }) ?? 0 } }
            var threads: Set<UInt> = []
            for await thread in group { threads.insert(thread) }
            return threads
        }
        let callers = await withTaskGroup(of: UInt.self) { group in
            for _ in 0..<8 { group.addTask { UInt(pthread_self()) } }
            var threads: Set<UInt> = []
            for await thread in group { threads.insert(thread) }
            return threads
        }
        #expect(threads.count == 1 && threads.isDisjoint(with: callers), "\(threads) \(callers)")
        let order = Mutex<[Int]>([])
        for index in 0..<5 { try await passes.run { order.withLock { $0.append(index) } } }
        #expect(order.withLock { $0 } == [0, 1, 2, 3, 4])
        await passes.stop()
        await #expect(throws: (any Error).self, "a stopped pass thread takes no more passes") { try await passes.run { 1 } }
    }
}
