import KukeEngine
import SystemPackage

/// Requests and dumps over one `NetlinkTransport`: numbers each request, keeps the replies
/// that answer it, turns an `NLMSG_ERROR` reply into its errno, and retries a dump the kernel
/// interrupted. Not shared between threads: each pass opens its own.
final class NetlinkSession {
    /// How many times a dump is sent again after `NLM_F_DUMP_INTR` before giving up.
    static let dumpAttempts = 5

    private let transport: any NetlinkTransport
    private var sequence: UInt32 = 1

    init(transport: any NetlinkTransport) {
        self.transport = transport
    }

    /// The sequence number of the next request: 2, 3, … on a new session.
    func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    private func send(_ message: NetlinkMessage, what: String) throws(HostError) {
        do {
            try transport.send(message.finished())
        } catch {
            throw HostError("\(what): \(error.message)", errno: error.errno)
        }
    }

    /// The messages of the next datagram that answer request `sequence`.
    private func receive(sequence: UInt32, what: String) throws(HostError) -> [NetlinkReply] {
        do {
            return try NetlinkReply.parse(transport.receive()[...]).filter { $0.sequence == sequence }
        } catch {
            throw HostError("\(what): \(error.message)", errno: error.errno)
        }
    }

    /// Sends a request with `NLM_F_ACK` and waits for its acknowledgement.
    func request(_ message: NetlinkMessage, sequence: UInt32, what: String) throws(HostError) {
        try send(message, what: what)
        while true {
            for reply in try receive(sequence: sequence, what: what) where reply.type == NetlinkMessage.messageError {
                let code = reply.errorCode
                if code == 0 { return }
                throw SystemError.hostError(what, code)
            }
        }
    }

    /// Sends a dump request and collects every message of the reply; sent again when the
    /// kernel reports the dump was interrupted by a concurrent change.
    func dump(_ build: (UInt32) -> NetlinkMessage, what: String) throws(HostError) -> [NetlinkReply] {
        for _ in 0..<Self.dumpAttempts {
            let sequence = nextSequence()
            try send(build(sequence), what: what)
            var collected: [NetlinkReply] = []
            var interrupted = false
            receiving: while true {
                for reply in try receive(sequence: sequence, what: what) {
                    if reply.flags & NetlinkMessage.flagDumpInterrupted != 0 { interrupted = true }
                    switch reply.type {
                    case NetlinkMessage.messageDone: break receiving
                    case NetlinkMessage.messageError:
                        let code = reply.errorCode
                        if code == 0 { break receiving }
                        throw SystemError.hostError(what, code)
                    default: collected.append(reply)
                    }
                }
            }
            if !interrupted { return collected }
        }
        throw HostError("\(what): the kernel kept interrupting the dump (links changing too fast)", errno: .interrupted)
    }
}
