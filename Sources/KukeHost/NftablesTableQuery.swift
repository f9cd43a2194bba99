import CKukeSys
import KukeEngine
import SystemPackage

/// A table as the kernel describes it in its reply to `NFT_MSG_GETTABLE` over nfnetlink: its
/// handle and its comment (`NFTA_TABLE_USERDATA`), or `ENOENT` when there is no such table.
///
/// Why not libnftables for this: its JSON output prints a table's comment only from nftables
/// 1.0.8 on (Debian bookworm's 1.0.6 leaves it out: measured, see
/// `Tests/Fixtures/nftables/examples.json`), and it reports a missing table only as the text of
/// `strerror` in its error buffer. The kernel's reply carries both as data: the comment as an
/// attribute, a missing table as the errno of the acknowledgement.
struct NftablesTableQuery {
    static let getTable = UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(NFT_MSG_GETTABLE.rawValue)
    static let newTable = UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(NFT_MSG_NEWTABLE.rawValue)
    static let familyInet = UInt8(NFPROTO_INET)
    static let attributeName = UInt16(NFTA_TABLE_NAME.rawValue)
    static let attributeFlags = UInt16(NFTA_TABLE_FLAGS.rawValue)  // 32 bits, big-endian
    static let flagDormant = UInt32(NFT_TABLE_F_DORMANT.rawValue)
    static let attributeHandle = UInt16(NFTA_TABLE_HANDLE.rawValue)  // 64 bits, big-endian
    static let attributeUserData = UInt16(NFTA_TABLE_USERDATA.rawValue)
    static let userDataComment: UInt8 = 0  // NFTNL_UDATA_TABLE_COMMENT: libnftnl's, not in the kernel's headers

    /// What the kernel says of the table.
    struct Table: Equatable {
        /// The same handle `nft -j list table` prints: a table deleted and created again has a new one.
        var handle: Int
        var comment: String?
        /// `flags dormant`: the table is there but none of its chains sees a packet.
        var dormant = false
    }

    /// `nft list table inet NAME`'s request for the table alone: `NLM_F_REQUEST | NLM_F_ACK`,
    /// `struct nfgenmsg` (family, version 0, resource id 0), `NFTA_TABLE_NAME`.
    static func request(name: String, sequence: UInt32) -> NetlinkMessage {
        var message = NetlinkMessage(type: getTable, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagAck, sequence: sequence)
        message.appendFamilyHeader(family: familyInet, length: 4)
        message.appendAttribute(type: attributeName, string: name)
        return message
    }

    /// The table of an `NFT_MSG_NEWTABLE` reply; nil for any other message or one without a handle.
    static func table(from reply: NetlinkReply) -> Table? {
        guard reply.type == newTable, reply.payload.count >= 4 else { return nil }
        let attributes = NetlinkAttributes(reply.payload.dropFirst(4))
        guard let raw = attributes[attributeHandle], raw.count == 8 else { return nil }
        let handle = raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let flags = attributes[attributeFlags].flatMap { $0.count == 4 ? $0.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } : nil } ?? 0
        return Table(
            handle: Int(truncatingIfNeeded: handle), comment: attributes[attributeUserData].flatMap(comment(inUserData:)),
            dormant: flags & flagDormant != 0)
    }

    /// The comment in a table's user data: libnftnl's entries of a type byte, a length byte and
    /// that many bytes of value; the comment's value is a NUL-terminated string. Nil when there is
    /// none or the entries are cut short.
    static func comment(inUserData bytes: ArraySlice<UInt8>) -> String? {
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 2 {
            let type = bytes[offset]
            let length = Int(bytes[offset + 1])
            let value = offset + 2
            guard bytes.endIndex - value >= length else { return nil }
            if type == userDataComment { return String(decoding: bytes[value..<value + length].prefix { $0 != 0 }, as: UTF8.self) }
            offset = value + length
        }
        return nil
    }

    /// The table `inet NAME`, or nil when the kernel answers that there is none (`ENOENT`).
    static func read(name: String, over transport: any NetlinkTransport) throws(HostError) -> Table? {
        try read(name: name, over: NetlinkSession(transport: transport))
    }

    /// `read(name:over:)` as one request of `session`.
    static func read(name: String, over session: NetlinkSession) throws(HostError) -> Table? {
        let what = "nftables: get table inet \(name)"
        do throws(HostError) {
            // Not a dump: the reply is the table, then the acknowledgement `dump` stops at.
            let replies = try session.dump({ request(name: name, sequence: $0) }, what: what)
            guard let table = replies.lazy.compactMap(table(from:)).first else { throw HostError("\(what): the kernel's reply holds no table") }
            return table
        } catch Errno.noSuchFileOrDirectory {
            return nil
        }
    }
}
