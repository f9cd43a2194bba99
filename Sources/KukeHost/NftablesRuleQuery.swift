import CKukeSys
import KukeEngine

/// The chains and rules of a table as the kernel dumps them over nfnetlink (`NFT_MSG_GETCHAIN`
/// and `NFT_MSG_GETRULE` with `NLM_F_DUMP`: one `NFT_MSG_NEWCHAIN` or `NFT_MSG_NEWRULE` message
/// each), read into a count of rules and a digest of what they do, without asking libnftables
/// to list the table (a listing of 1000 spaces costs it tens of milliseconds; the dumps, a few).
///
/// The digest covers, in the kernel's order, each chain's name, hook, policy, type and flags, and
/// each rule's chain, expressions and user data (its comment); a `counter` expression counts by
/// its name only (its packets change), and handles and positions are left out (a rewrite gives
/// new ones). A rule added, removed, reordered or changed in place (a verdict, a match), or a
/// chain's policy changed, gives another digest.
enum NftablesRuleQuery {
    static let getRule = UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(NFT_MSG_GETRULE.rawValue)
    static let newRule = UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(NFT_MSG_NEWRULE.rawValue)
    static let getChain = UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(NFT_MSG_GETCHAIN.rawValue)
    static let newChain = UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(NFT_MSG_NEWCHAIN.rawValue)
    static let attributeTable = UInt16(NFTA_RULE_TABLE.rawValue)  // also NFTA_CHAIN_TABLE
    static let attributeRuleChain = UInt16(NFTA_RULE_CHAIN.rawValue)
    static let attributeRuleExpressions = UInt16(NFTA_RULE_EXPRESSIONS.rawValue)
    static let attributeUserData = UInt16(NFTA_RULE_USERDATA.rawValue)
    static let attributeExpressionName = UInt16(NFTA_EXPR_NAME.rawValue)
    static let attributeExpressionData = UInt16(NFTA_EXPR_DATA.rawValue)
    /// NFTA_CHAIN_NAME, _HOOK, _POLICY, _TYPE, _FLAGS: what a chain does (not its handle, use or counters).
    static let chainAttributes: [UInt16] = [3, 4, 5, 7, 9]

    /// A table's rule count and the digest of its chains and rules.
    struct Reading: Equatable {
        var ruleCount: Int
        var digest: String
    }

    /// `nft list table inet NAME`'s dump of the table's rules (`type` `getRule`) or chains
    /// (`getChain`): `NLM_F_REQUEST | NLM_F_DUMP`, `struct nfgenmsg` (family, version 0,
    /// resource id 0), the table's name, which the kernel filters the dump by.
    static func request(table: String, type: UInt16 = getRule, sequence: UInt32) -> NetlinkMessage {
        var message = NetlinkMessage(type: type, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagDump, sequence: sequence)
        message.appendFamilyHeader(family: NftablesTableQuery.familyInet, length: 4)
        message.appendAttribute(type: attributeTable, string: table)
        return message
    }

    /// The attributes of `reply` when it is a message of `type` about table `inet TABLE`.
    static func attributes(of reply: NetlinkReply, type: UInt16, table: String) -> NetlinkAttributes? {
        guard reply.type == type, reply.payload.count >= 4, reply.payload[reply.payload.startIndex] == NftablesTableQuery.familyInet else {
            return nil
        }
        let attributes = NetlinkAttributes(reply.payload.dropFirst(4))
        return attributes.string(attributeTable) == table ? attributes : nil
    }

    /// The chains, then the rules, of `inet TABLE`: none when the table has none or is missing
    /// (a dump finds nothing rather than failing: `NftablesTableQuery` tells a missing table).
    static func read(table: String, over session: NetlinkSession) throws(HostError) -> Reading {
        var digest = Digest()
        let chains = try session.dump(
            { request(table: table, type: getChain, sequence: $0) }, what: "nftables: list chains of table inet \(table)")
        for reply in chains {
            guard let attributes = attributes(of: reply, type: newChain, table: table) else { continue }
            digest.add(word: "chain")
            for type in chainAttributes { digest.add(attributes[type] ?? []) }
        }
        let rules = try session.dump({ request(table: table, sequence: $0) }, what: "nftables: list rules of table inet \(table)")
        var count = 0
        for reply in rules {
            guard let attributes = attributes(of: reply, type: newRule, table: table) else { continue }
            count += 1
            digest.add(word: "rule")
            digest.add(attributes[attributeRuleChain] ?? [])
            for expression in NetlinkAttributes.list(attributes[attributeRuleExpressions] ?? []) {
                let parts = NetlinkAttributes(expression.value)
                let name = parts[attributeExpressionName] ?? []
                digest.add(name)
                // A counter's packets and bytes change with traffic: only that the rule counts is kept.
                if parts.string(attributeExpressionName) != "counter" { digest.add(parts[attributeExpressionData] ?? []) }
            }
            digest.add(attributes[attributeUserData] ?? [])
        }
        return Reading(ruleCount: count, digest: String(digest.value, radix: 16))
    }

    /// FNV-1a over length-prefixed fields, so no two different sequences of fields run together.
    struct Digest {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325

        mutating func add(_ bytes: ArraySlice<UInt8>) {
            var length = UInt32(bytes.count)
            for _ in 0..<4 {
                byte(UInt8(length & 0xFF))
                length >>= 8
            }
            for item in bytes { byte(item) }
        }

        mutating func add(word: String) { add(ArraySlice(word.utf8)) }

        mutating func byte(_ item: UInt8) {
            value ^= UInt64(item)
            value = value &* 0x100_0000_01b3
        }
    }
}
