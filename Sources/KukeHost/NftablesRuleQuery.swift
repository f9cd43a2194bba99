import KukeEngine

/// The rules of a table as the kernel dumps them in reply to `NFT_MSG_GETRULE` with
/// `NLM_F_DUMP` over nfnetlink: one `NFT_MSG_NEWRULE` message per rule. kuke counts the ones
/// that carry a comment (every rule it writes does), the count `FirewallPlanner.plan` compares,
/// without asking libnftables to list the table (a listing of 1000 spaces costs it tens of
/// milliseconds; the dump, a few).
enum NftablesRuleQuery {
    static let getRule: UInt16 = 10 << 8 | 7  // NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETRULE
    static let newRule: UInt16 = 10 << 8 | 6  // NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE
    static let attributeTable: UInt16 = 1  // NFTA_RULE_TABLE
    static let attributeUserData: UInt16 = 7  // NFTA_RULE_USERDATA

    /// `nft list table inet NAME`'s dump of the table's rules: `NLM_F_REQUEST | NLM_F_DUMP`,
    /// `struct nfgenmsg` (family, version 0, resource id 0), `NFTA_RULE_TABLE`, which the kernel
    /// filters the dump by.
    static func request(table: String, sequence: UInt32) -> NetlinkMessage {
        var message = NetlinkMessage(type: getRule, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagDump, sequence: sequence)
        message.appendFamilyHeader(family: NftablesTableQuery.familyInet, length: 4)
        message.appendAttribute(type: attributeTable, string: table)
        return message
    }

    /// Whether `reply` is a rule of table `table` that carries a comment.
    static func isCommentedRule(_ reply: NetlinkReply, table: String) -> Bool {
        guard reply.type == newRule, reply.payload.count >= 4, reply.payload[reply.payload.startIndex] == NftablesTableQuery.familyInet else {
            return false
        }
        let attributes = NetlinkAttributes(reply.payload.dropFirst(4))
        guard attributes.string(attributeTable) == table, let userData = attributes[attributeUserData] else { return false }
        // libnftnl encodes a rule's user data as a table's: its comment is entry type 0 there too.
        return NftablesTableQuery.comment(inUserData: userData) != nil
    }

    /// How many rules of `inet TABLE` carry a comment; 0 when the table has none or is missing
    /// (a dump finds nothing rather than failing: `NftablesTableQuery` tells a missing table).
    static func countCommented(table: String, over session: NetlinkSession) throws(HostError) -> Int {
        let replies = try session.dump({ request(table: table, sequence: $0) }, what: "nftables: list rules of table inet \(table)")
        return replies.reduce(0) { $0 + (isCommentedRule($1, table: table) ? 1 : 0) }
    }
}
