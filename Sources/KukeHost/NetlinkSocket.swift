import CKukeSys
import Glibc
import KukeEngine

/// A NETLINK_ROUTE socket that sends one request at a time and reads its replies:
/// an acknowledgement (`NLMSG_ERROR` with 0 or -errno) or a multi-part dump ending in `NLMSG_DONE`.
/// Not shared between threads: each pass opens its own.
final class NetlinkSocket {
    static let receiveBufferSize = 1 << 16
    static let messageError: UInt16 = 2  // NLMSG_ERROR
    static let messageDone: UInt16 = 3  // NLMSG_DONE
    static let flagRequest: UInt16 = 0x1
    static let flagMulti: UInt16 = 0x2
    static let flagAck: UInt16 = 0x4
    static let flagDump: UInt16 = 0x300
    static let flagDumpInterrupted: UInt16 = 0x10
    static let flagExclusive: UInt16 = 0x200
    static let flagCreate: UInt16 = 0x400

    private let descriptor: Int32
    private var sequence: UInt32 = 1

    /// - Parameter groups: multicast groups to join (`RTMGRP_LINK` for the link monitor); 0 for requests.
    init(groups: UInt32 = 0) throws(HostError) {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_ROUTE)
        guard fd >= 0 else { throw SystemError.hostError("netlink: socket(NETLINK_ROUTE) failed", errno) }
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

    func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    private func send(_ message: [UInt8], what: String) throws(HostError) {
        var kernel = ckuke_kernel_address()
        let sent = message.withUnsafeBytes { buffer in
            withUnsafePointer(to: &kernel) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    SystemError.retrying {
                        sendto(descriptor, buffer.baseAddress, buffer.count, 0, address, socklen_t(MemoryLayout<sockaddr_nl>.size))
                    }
                }
            }
        }
        guard sent == message.count else { throw SystemError.hostError("\(what): netlink send failed", sent < 0 ? errno : EIO) }
    }

    private func receive(what: String) throws(HostError) -> [NetlinkReply] {
        var buffer = [UInt8](repeating: 0, count: Self.receiveBufferSize)
        let count = buffer.withUnsafeMutableBytes { raw in
            SystemError.retrying { recv(descriptor, raw.baseAddress, raw.count, 0) }
        }
        guard count > 0 else { throw SystemError.hostError("\(what): netlink receive failed", count == 0 ? EIO : errno) }
        return NetlinkReply.parse(buffer[0..<count])
    }

    /// Waits up to `timeout` seconds for multicast messages; empty on timeout. Throws
    /// ENOBUFS when the kernel dropped messages because the socket buffer was full.
    func receiveNotifications(timeout: Int) throws(HostError) -> [NetlinkReply] {
        var wait = timeval(tv_sec: timeout, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: Self.receiveBufferSize)
        let count = buffer.withUnsafeMutableBytes { raw in
            SystemError.retrying { recv(descriptor, raw.baseAddress, raw.count, 0) }
        }
        if count < 0 {
            if errno == EAGAIN { return [] }
            throw SystemError.hostError("link monitor: netlink receive failed", errno)
        }
        return NetlinkReply.parse(buffer[0..<count])
    }

    /// The errno of an `NLMSG_ERROR` reply (0 for an acknowledgement); EIO when it is too short.
    static func errorCode(_ reply: NetlinkReply) -> Int32 {
        guard reply.payload.count >= 4 else { return EIO }
        return -Int32(bitPattern: reply.payload.readInteger(at: reply.payload.startIndex, as: UInt32.self))
    }

    /// Sends a request with `NLM_F_ACK` and waits for its acknowledgement.
    func request(_ message: NetlinkMessage, sequence: UInt32, what: String) throws(HostError) {
        try send(message.finished(), what: what)
        while true {
            for reply in try receive(what: what) where reply.sequence == sequence {
                if reply.type == Self.messageError {
                    let code = Self.errorCode(reply)
                    if code == 0 { return }
                    throw SystemError.hostError(what, code)
                }
            }
        }
    }

    /// Sends a dump request and collects every message of the reply; retried when the
    /// kernel reports the dump was interrupted by a concurrent change.
    func dump(_ build: (UInt32) -> NetlinkMessage, what: String) throws(HostError) -> [NetlinkReply] {
        for _ in 0..<5 {
            let sequence = nextSequence()
            try send(build(sequence).finished(), what: what)
            var collected: [NetlinkReply] = []
            var interrupted = false
            receiving: while true {
                for reply in try receive(what: what) where reply.sequence == sequence {
                    if reply.flags & Self.flagDumpInterrupted != 0 { interrupted = true }
                    switch reply.type {
                    case Self.messageDone: break receiving
                    case Self.messageError:
                        let code = Self.errorCode(reply)
                        if code == 0 { break receiving }
                        throw SystemError.hostError(what, code)
                    default: collected.append(reply)
                    }
                }
            }
            if !interrupted { return collected }
        }
        throw HostError("\(what): the kernel kept interrupting the dump (links changing too fast)", code: "EINTR")
    }
}
