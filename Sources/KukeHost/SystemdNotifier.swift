import CKukeSys
import Foundation
import Glibc

/// sd_notify(3) without libsystemd: one datagram to `$NOTIFY_SOCKET` per state change
/// (`READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1`). A no-op when not run by systemd.
public struct SystemdNotifier: Sendable {
    let socketPath: String?
    /// Half the watchdog interval systemd asked for, in seconds; nil without `WatchdogSec`.
    public let watchdogInterval: Double?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        let pidMatches = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        watchdogInterval = pidMatches ? environment["WATCHDOG_USEC"].flatMap { UInt64($0) }.map { Double($0) / 2_000_000 } : nil
    }

    public var isActive: Bool { socketPath != nil }

    /// Sends `state` (lines like `READY=1\nSTATUS=…`); errors are ignored, as sd_notify does.
    public func notify(_ state: String) {
        guard let socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
        let bytes = Array(state.utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, pointer, length) }
            }
        }
    }
}
