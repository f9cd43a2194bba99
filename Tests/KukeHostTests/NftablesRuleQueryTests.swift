import Glibc
import KukeEngine
import Testing

@testable import KukeHost

/// The nfnetlink dumps of a table's chains and rules (`NFT_MSG_GETCHAIN`, `NFT_MSG_GETRULE`),
/// which `NftablesFirewall.summary()` reads into a rule count and a digest instead of asking
/// libnftables for a listing. The replies are built by hand from `<linux/netfilter/nfnetlink.h>`
/// (`struct nfgenmsg`) and `<linux/netfilter/nf_tables.h>` (`enum nft_rule_attributes`,
/// `enum nft_chain_attributes`); their layout is the one the captured table reply has.
@Suite("nftables rules over nfnetlink")
struct NftablesRuleQueryTests {
    /// A rule of table `table`, chain `chain`, as the kernel dumps it: `NFT_MSG_NEWRULE`,
    /// `struct nfgenmsg` (family, version, the ruleset generation big-endian), `NFTA_RULE_TABLE`,
    /// `NFTA_RULE_CHAIN`, `NFTA_RULE_HANDLE` (64 bits, big-endian), `NFTA_RULE_EXPRESSIONS` (one
    /// `NFTA_LIST_ELEM` per expression: `NFTA_EXPR_NAME` and `NFTA_EXPR_DATA`), and
    /// `NFTA_RULE_USERDATA` with the comment as libnftnl writes it (type 0, length,
    /// NUL-terminated value) when there is one.
    static func rule(
        sequence: UInt32, table: String = "kukeon", chain: String, handle: UInt8, comment: String?, family: UInt8 = 1,
        expressions: [(name: String, data: [UInt8])] = [("immediate", [1, 2, 3, 4])]
    ) -> [UInt8] {
        var payload: [UInt8] = [family, 0, 0x12, 0x34]
        payload += Wire.attribute(1, Wire.string(table))
        payload += Wire.attribute(2, Wire.string(chain))
        payload += Wire.attribute(3, [0, 0, 0, 0, 0, 0, 0, handle])
        let list = expressions.flatMap { expression in
            Wire.attribute(1 | 0x8000, Wire.attribute(1, Wire.string(expression.name)) + Wire.attribute(2 | 0x8000, expression.data))
        }
        payload += Wire.attribute(4 | 0x8000, list)
        if let comment {
            let value = Wire.string(comment)
            payload += Wire.attribute(7, [0, UInt8(value.count)] + value)
        }
        return Wire.message(type: NftablesRuleQuery.newRule, sequence: sequence, payload: payload)
    }

    /// A chain as the kernel dumps it: `NFT_MSG_NEWCHAIN`, `NFTA_CHAIN_TABLE`, `NFTA_CHAIN_HANDLE`,
    /// `NFTA_CHAIN_NAME`, and `NFTA_CHAIN_POLICY` (32 bits, big-endian: 1 accept, 0 drop).
    static func chain(sequence: UInt32, name: String, handle: UInt8, policy: UInt8 = 1) -> [UInt8] {
        var payload: [UInt8] = [1, 0, 0x12, 0x34]
        payload += Wire.attribute(1, Wire.string("kukeon"))
        payload += Wire.attribute(2, [0, 0, 0, 0, 0, 0, 0, handle])
        payload += Wire.attribute(3, Wire.string(name))
        payload += Wire.attribute(5, [0, 0, 0, policy])
        return Wire.message(type: NftablesRuleQuery.newChain, sequence: sequence, payload: payload)
    }

    /// The reading of one chain dump (sequence 2) and one rule dump (sequence 3).
    static func read(chains: [[UInt8]] = [], rules: [[UInt8]]) throws -> NftablesRuleQuery.Reading {
        let transport = ReplayTransport(answers: [[chains.flatMap { $0 } + Wire.done(sequence: 2)], [rules.flatMap { $0 } + Wire.done(sequence: 3)]])
        return try NftablesRuleQuery.read(table: "kukeon", over: NetlinkSession(transport: transport))
    }

    @Test("NFT_MSG_GETRULE and NFT_MSG_GETCHAIN dumps of inet kukeon, byte for byte: header, nfgenmsg, the table's name")
    func request() {
        let expected = NftablesTableQueryTests.bytes(
            hex: "20000000" + "070a" + "0103" + "07000000" + "00000000"  // length 32, GETRULE, REQUEST|DUMP, sequence 7, pid 0
                + "01000000"  // nfgenmsg: NFPROTO_INET, NFNETLINK_V0, resource 0
                + "0b000100" + "6b756b656f6e0000")  // NFTA_RULE_TABLE "kukeon\0", padded
        #expect(NftablesRuleQuery.request(table: "kukeon", sequence: 7).finished() == expected)
        var chains = expected
        chains[4] = 0x04  // NFT_MSG_GETCHAIN
        #expect(NftablesRuleQuery.request(table: "kukeon", type: NftablesRuleQuery.getChain, sequence: 7).finished() == chains)
    }

    @Test("a dump in three datagrams: every rule of the table counts, commented or not; another family's or table's do not")
    func multipartDump() throws {
        let first =
            Self.rule(sequence: 3, chain: "forward", handle: 4, comment: "established")
            + Self.rule(sequence: 3, chain: "forward", handle: 5, comment: "isolate main/blog")
            + Self.rule(sequence: 3, chain: "forward", handle: 6, comment: nil)
        let second =
            Self.rule(sequence: 3, chain: "egress_kuke-main-shop", handle: 8, comment: "allow[0] cidr 10.20.0.0/16")
            + Self.rule(sequence: 3, table: "other", chain: "forward", handle: 9, comment: "not kuke's table")
            + Self.rule(sequence: 3, chain: "forward", handle: 10, comment: "ip family", family: 2)
            + Self.rule(sequence: 1, chain: "forward", handle: 11, comment: "an older request's")
        let last = Self.rule(sequence: 3, chain: "egress_kuke-main-shop", handle: 12, comment: "deny") + Wire.done(sequence: 3)
        let transport = ReplayTransport(answers: [[Wire.done(sequence: 2)], [first, second, last]])
        #expect(try NftablesRuleQuery.read(table: "kukeon", over: NetlinkSession(transport: transport)).ruleCount == 5)
        #expect(
            transport.sent == [
                NftablesRuleQuery.request(table: "kukeon", type: NftablesRuleQuery.getChain, sequence: 2).finished(),
                NftablesRuleQuery.request(table: "kukeon", sequence: 3).finished(),
            ])
    }

    @Test("the digest: counters' packets and the handles do not change it; a verdict, a comment, the order, a rule added or a chain's policy do")
    func digest() throws {
        let drop: [(name: String, data: [UInt8])] = [("counter", [0, 0, 0, 1]), ("immediate", [0, 0, 0, 0])]
        let base = [
            Self.rule(sequence: 3, chain: "forward", handle: 4, comment: "isolate", expressions: drop),
            Self.rule(sequence: 3, chain: "forward", handle: 5, comment: "egress"),
        ]
        let chains = [Self.chain(sequence: 2, name: "forward", handle: 1)]
        let reading = try Self.read(chains: chains, rules: base)
        #expect(reading.ruleCount == 2)
        let counted: [(name: String, data: [UInt8])] = [("counter", [9, 9, 9, 9, 9, 9, 9, 9]), ("immediate", [0, 0, 0, 0])]
        let traffic = [
            Self.rule(sequence: 3, chain: "forward", handle: 40, comment: "isolate", expressions: counted),
            Self.rule(sequence: 3, chain: "forward", handle: 50, comment: "egress"),
        ]
        #expect(try Self.read(chains: [Self.chain(sequence: 2, name: "forward", handle: 7)], rules: traffic) == reading)
        let accept: [(name: String, data: [UInt8])] = [("counter", [0, 0, 0, 1]), ("immediate", [0, 0, 0, 1])]
        let changed: [[[UInt8]]] = [
            [Self.rule(sequence: 3, chain: "forward", handle: 4, comment: "isolate", expressions: accept), base[1]],
            [Self.rule(sequence: 3, chain: "forward", handle: 4, comment: "isolated", expressions: drop), base[1]],
            [base[1], base[0]],
            base + [Self.rule(sequence: 3, chain: "forward", handle: 6, comment: nil)],
        ]
        for rules in changed { #expect(try Self.read(chains: chains, rules: rules).digest != reading.digest) }
        #expect(try Self.read(chains: [Self.chain(sequence: 2, name: "forward", handle: 1, policy: 0)], rules: base).digest != reading.digest)
    }

    @Test("an empty dump is no rules; an error ends it with its errno")
    func emptyAndFailed() throws {
        #expect(try Self.read(rules: []).ruleCount == 0)
        let denied = ReplayTransport(answers: [[Wire.done(sequence: 2)], [Wire.error(EPERM, sequence: 3, requestType: NftablesRuleQuery.getRule)]])
        #expect(throws: HostError.self) { try NftablesRuleQuery.read(table: "kukeon", over: NetlinkSession(transport: denied)) }
    }

    /// The captured table reply renumbered for `sequence`, its handle changed to `handle`.
    static func table(sequence: UInt32, handle: UInt8 = 3) throws -> [UInt8] {
        var reply = try NftablesTableQueryTests.capturedReply(sequence: sequence)
        let attributes = NetlinkAttributes(try #require(NetlinkReply.parse(reply[...]).first).payload.dropFirst(4))
        let raw = try #require(attributes[NftablesTableQuery.attributeHandle])
        reply[raw.endIndex - 1] = handle  // slices keep the datagram's indices: the handle's last, low byte
        return reply
    }

    @Test("summary: the table, its chains and rules, the table again over one socket; the comment's fingerprint and owner with the count and digest")
    func summary() throws {
        let ack = { (sequence: UInt32) in Wire.error(0, sequence: sequence, requestType: NftablesTableQuery.getTable) }
        let rule = Self.rule(sequence: 4, chain: "forward", handle: 4, comment: "established")
        let transport = ReplayTransport(answers: [
            [try Self.table(sequence: 2), ack(2)],
            [Self.chain(sequence: 3, name: "forward", handle: 1) + Wire.done(sequence: 3)],
            [rule, Wire.done(sequence: 4)],
            [try Self.table(sequence: 5), ack(5)],
        ])
        let firewall = NftablesFirewall { () throws(HostError) in transport }
        let digest = try Self.read(
            chains: [Self.chain(sequence: 2, name: "forward", handle: 1)],
            rules: [
                Self.rule(sequence: 3, chain: "forward", handle: 4, comment: "established")
            ]
        ).digest
        #expect(
            try firewall.summary() == FirewallSummary(fingerprint: "48382e5a41988e92", ruleCount: 1, owner: "run:/mnt/kukeon", digest: digest))
        #expect(
            transport.sent == [
                NftablesTableQuery.request(name: "kukeon", sequence: 2).finished(),
                NftablesRuleQuery.request(table: "kukeon", type: NftablesRuleQuery.getChain, sequence: 3).finished(),
                NftablesRuleQuery.request(table: "kukeon", sequence: 4).finished(),
                NftablesTableQuery.request(name: "kukeon", sequence: 5).finished(),
            ])
    }

    @Test("summary: a table replaced during the dump (a new handle) is read again; a missing table is none, before any dump")
    func summaryRetried() throws {
        let ack = { (sequence: UInt32) in Wire.error(0, sequence: sequence, requestType: NftablesTableQuery.getTable) }
        let rule = { (sequence: UInt32) in Self.rule(sequence: sequence, chain: "forward", handle: 4, comment: "established") }
        let transport = ReplayTransport(answers: [
            [try Self.table(sequence: 2), ack(2)],
            [Wire.done(sequence: 3)],
            [rule(4), rule(4), Wire.done(sequence: 4)],
            [try Self.table(sequence: 5, handle: 5), ack(5)],
            [try Self.table(sequence: 6, handle: 5), ack(6)],
            [Wire.done(sequence: 7)],
            [rule(8), Wire.done(sequence: 8)],
            [try Self.table(sequence: 9, handle: 5), ack(9)],
        ])
        let firewall = NftablesFirewall { () throws(HostError) in transport }
        #expect(try firewall.summary()?.ruleCount == 1)
        #expect(transport.sent.count == 8)
        let missing = NftablesFirewall { () throws(HostError) in
            ReplayTransport(answers: [[Wire.error(ENOENT, sequence: 2, requestType: NftablesTableQuery.getTable)]])
        }
        #expect(try missing.summary() == nil)
    }
}
