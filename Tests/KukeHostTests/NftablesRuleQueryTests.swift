import Glibc
import KukeEngine
import Testing

@testable import KukeHost

/// The nfnetlink dump of a table's rules (`NFT_MSG_GETRULE`), which `NftablesFirewall.summary()`
/// counts instead of asking libnftables for a listing. The replies are built by hand from
/// `<linux/netfilter/nfnetlink.h>` (`struct nfgenmsg`) and `<linux/netfilter/nf_tables.h>`
/// (`enum nft_rule_attributes`); their layout is the one the captured table reply has.
@Suite("nftables rules over nfnetlink")
struct NftablesRuleQueryTests {
    /// A rule of table `table`, chain `chain`, as the kernel dumps it: `NFT_MSG_NEWRULE`,
    /// `struct nfgenmsg` (family, version, the ruleset generation big-endian), `NFTA_RULE_TABLE`,
    /// `NFTA_RULE_CHAIN`, `NFTA_RULE_HANDLE` (64 bits, big-endian), `NFTA_RULE_EXPRESSIONS` (one
    /// nested `immediate` stands in for them), and `NFTA_RULE_USERDATA` with the comment as
    /// libnftnl writes it (type 0, length, NUL-terminated value) when there is one.
    static func rule(sequence: UInt32, table: String = "kukeon", chain: String, handle: UInt8, comment: String?, family: UInt8 = 1)
        -> [UInt8]
    {
        var payload: [UInt8] = [family, 0, 0x12, 0x34]
        payload += Wire.attribute(1, Wire.string(table))
        payload += Wire.attribute(2, Wire.string(chain))
        payload += Wire.attribute(3, [0, 0, 0, 0, 0, 0, 0, handle])
        payload += Wire.attribute(4 | 0x8000, Wire.attribute(1 | 0x8000, Wire.attribute(1, Wire.string("immediate"))))
        if let comment {
            let value = Wire.string(comment)
            payload += Wire.attribute(7, [0, UInt8(value.count)] + value)
        }
        return Wire.message(type: NftablesRuleQuery.newRule, sequence: sequence, payload: payload)
    }

    @Test("NFT_MSG_GETRULE dump of inet kukeon, byte for byte: header, nfgenmsg, NFTA_RULE_TABLE")
    func request() {
        let expected = NftablesTableQueryTests.bytes(
            hex: "20000000" + "070a" + "0103" + "07000000" + "00000000"  // length 32, GETRULE, REQUEST|DUMP, sequence 7, pid 0
                + "01000000"  // nfgenmsg: NFPROTO_INET, NFNETLINK_V0, resource 0
                + "0b000100" + "6b756b656f6e0000")  // NFTA_RULE_TABLE "kukeon\0", padded
        #expect(NftablesRuleQuery.request(table: "kukeon", sequence: 7).finished() == expected)
    }

    @Test("a dump in three datagrams: every commented rule of the table counts; a rule without a comment, another family's or table's do not")
    func multipartDump() throws {
        let first =
            Self.rule(sequence: 2, chain: "forward", handle: 4, comment: "established")
            + Self.rule(sequence: 2, chain: "forward", handle: 5, comment: "isolate main/blog")
            + Self.rule(sequence: 2, chain: "forward", handle: 6, comment: nil)
        let second =
            Self.rule(sequence: 2, chain: "egress_kuke-main-shop", handle: 8, comment: "allow[0] cidr 10.20.0.0/16")
            + Self.rule(sequence: 2, table: "other", chain: "forward", handle: 9, comment: "not kuke's table")
            + Self.rule(sequence: 2, chain: "forward", handle: 10, comment: "ip family", family: 2)
            + Self.rule(sequence: 1, chain: "forward", handle: 11, comment: "an older request's")
        let last = Self.rule(sequence: 2, chain: "egress_kuke-main-shop", handle: 12, comment: "deny") + Wire.done(sequence: 2)
        let transport = ReplayTransport(answers: [[first, second, last]])
        #expect(try NftablesRuleQuery.countCommented(table: "kukeon", over: NetlinkSession(transport: transport)) == 4)
        #expect(transport.sent == [NftablesRuleQuery.request(table: "kukeon", sequence: 2).finished()])
    }

    @Test("an empty dump is no rules; an error ends it with its errno")
    func emptyAndFailed() throws {
        let empty = ReplayTransport(answers: [[Wire.done(sequence: 2)]])
        #expect(try NftablesRuleQuery.countCommented(table: "kukeon", over: NetlinkSession(transport: empty)) == 0)
        let denied = ReplayTransport(answers: [[Wire.error(EPERM, sequence: 2, requestType: NftablesRuleQuery.getRule)]])
        #expect(throws: HostError.self) { try NftablesRuleQuery.countCommented(table: "kukeon", over: NetlinkSession(transport: denied)) }
    }

    /// The captured table reply renumbered for `sequence`, its handle changed to `handle`.
    static func table(sequence: UInt32, handle: UInt8 = 3) throws -> [UInt8] {
        var reply = try NftablesTableQueryTests.capturedReply(sequence: sequence)
        let attributes = NetlinkAttributes(try #require(NetlinkReply.parse(reply[...]).first).payload.dropFirst(4))
        let raw = try #require(attributes[NftablesTableQuery.attributeHandle])
        reply[raw.endIndex - 1] = handle  // slices keep the datagram's indices: the handle's last, low byte
        return reply
    }

    @Test("summary: the table, its rules, the table again over one socket; the comment's fingerprint and owner with the count")
    func summary() throws {
        let ack = { (sequence: UInt32) in Wire.error(0, sequence: sequence, requestType: NftablesTableQuery.getTable) }
        let transport = ReplayTransport(answers: [
            [try Self.table(sequence: 2), ack(2)],
            [Self.rule(sequence: 3, chain: "forward", handle: 4, comment: "established"), Wire.done(sequence: 3)],
            [try Self.table(sequence: 4), ack(4)],
        ])
        let firewall = NftablesFirewall { () throws(HostError) in transport }
        #expect(try firewall.summary() == FirewallSummary(fingerprint: "eaf48592c05be80b", ruleCount: 1, owner: "run:/mnt/kukeon"))
        #expect(
            transport.sent == [
                NftablesTableQuery.request(name: "kukeon", sequence: 2).finished(),
                NftablesRuleQuery.request(table: "kukeon", sequence: 3).finished(),
                NftablesTableQuery.request(name: "kukeon", sequence: 4).finished(),
            ])
    }

    @Test("summary: a table replaced during the dump (a new handle) is read again; a missing table is none, before any dump")
    func summaryRetried() throws {
        let ack = { (sequence: UInt32) in Wire.error(0, sequence: sequence, requestType: NftablesTableQuery.getTable) }
        let rule = { (sequence: UInt32) in Self.rule(sequence: sequence, chain: "forward", handle: 4, comment: "established") }
        let transport = ReplayTransport(answers: [
            [try Self.table(sequence: 2), ack(2)],
            [rule(3), rule(3), Wire.done(sequence: 3)],
            [try Self.table(sequence: 4, handle: 5), ack(4)],
            [try Self.table(sequence: 5, handle: 5), ack(5)],
            [rule(6), Wire.done(sequence: 6)],
            [try Self.table(sequence: 7, handle: 5), ack(7)],
        ])
        let firewall = NftablesFirewall { () throws(HostError) in transport }
        #expect(try firewall.summary()?.ruleCount == 1)
        #expect(transport.sent.count == 6)
        let missing = NftablesFirewall { () throws(HostError) in
            ReplayTransport(answers: [[Wire.error(ENOENT, sequence: 2, requestType: NftablesTableQuery.getTable)]])
        }
        #expect(try missing.summary() == nil)
    }
}
