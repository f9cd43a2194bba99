import CKukeSys
import Glibc
import KukeEngine

/// The real `NetlinkTransport`: a netlink socket bound to the kernel (NETLINK_ROUTE, or
/// NETLINK_NETFILTER for nftables), one datagram per system call, retried on EINTR. Its only state is the descriptor and the kernel keeps each
/// datagram whole, so it is `Sendable` and the link monitor's thread can take it over; matching
/// replies to requests is the `NetlinkSession`'s job, one per pass.
final class NetlinkSocket: NetlinkTransport {
    static let receiveBufferSize = 1 << 16

    private let descriptor: Int32

    /// - Parameters:
    ///   - family: `NETLINK_ROUTE`, or `NETLINK_NETFILTER` for nftables.
    ///   - groups: multicast groups to join (`RTMGRP_LINK` for the link monitor); 0 for requests.
    init(family: Int32 = NETLINK_ROUTE, groups: UInt32 = 0) throws(HostError) {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), family)
        guard fd >= 0 else {
            throw SystemError.hostError("netlink: socket(\(family == NETLINK_ROUTE ? "NETLINK_ROUTE" : "NETLINK_NETFILTER")) failed", errno)
        }
        descriptor = fd
        var size: Int32 = 1 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = ckuke_kernel_address()
        address.nl_groups = groups
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw SystemError.hostError("netlink: bind failed", code)
        }
    }

    deinit { close(descriptor) }

    func send(_ datagram: [UInt8]) throws(HostError) {
        var kernel = ckuke_kernel_address()
        let sent = datagram.withUnsafeBytes { buffer in
            withUnsafePointer(to: &kernel) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    SystemError.retrying {
                        sendto(descriptor, buffer.baseAddress, buffer.count, 0, address, socklen_t(MemoryLayout<sockaddr_nl>.size))
                    }
                }
            }
        }
        guard sent == datagram.count else { throw SystemError.hostError("netlink send failed", sent < 0 ? errno : EIO) }
    }

    func receive() throws(HostError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: Self.receiveBufferSize)
        let count = buffer.withUnsafeMutableBytes { raw in
            SystemError.retrying { recv(descriptor, raw.baseAddress, raw.count, 0) }
        }
        guard count > 0 else { throw SystemError.hostError("netlink receive failed", count == 0 ? EIO : errno) }
        buffer.removeSubrange(count...)
        return buffer
    }

    func receive(orWakeOn wake: WakeSignal) throws(HostError) -> [UInt8]? {
        guard wake.waitReadable(descriptor) else { return nil }
        var buffer = [UInt8](repeating: 0, count: Self.receiveBufferSize)
        let count = buffer.withUnsafeMutableBytes { raw in
            SystemError.retrying { recv(descriptor, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT)) }
        }
        if count < 0 {
            if errno == EAGAIN { return [] }  // readable, then nothing: woken for nothing
            throw SystemError.hostError("netlink receive failed", errno)
        }
        buffer.removeSubrange(count...)
        return buffer
    }
}
