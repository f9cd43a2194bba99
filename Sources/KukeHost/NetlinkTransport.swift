import KukeEngine

/// A netlink socket seen as datagrams: what the rtnetlink requests, the link dump, the link
/// monitor and the nftables table query (NETLINK_NETFILTER) need from the kernel. `NetlinkSocket` is the real one; tests hand in
/// a transport that records the requests and replays recorded replies, so the encoding of
/// every request and the parsing of every reply are checked without root.
protocol NetlinkTransport: Sendable {
    /// Sends one datagram holding one request.
    func send(_ datagram: [UInt8]) throws(HostError)

    /// Waits for the next datagram: one or more messages.
    func receive() throws(HostError) -> [UInt8]

    /// Waits for the next datagram, or for `wake`; nil when woken. Throws ENOBUFS when the
    /// kernel dropped messages because the socket buffer was full.
    func receive(orWakeOn wake: WakeSignal) throws(HostError) -> [UInt8]?
}
