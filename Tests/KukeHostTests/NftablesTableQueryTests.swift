import Foundation
import Glibc
import KukeEngine
import SystemPackage
import Testing

@testable import KukeHost

/// The nfnetlink request for a table and the kernel's reply, captured with the JSON listing by
/// `Tests/Fixtures/nftables/capture.sh` (the same table, `kuke apply -f examples/`).
@Suite("nftables table over nfnetlink")
struct NftablesTableQueryTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/nftables")

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.filter(\.isHexDigit))
        return stride(from: 0, to: digits.count - 1, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    @Test("NFT_MSG_GETTABLE for inet kukeon, byte for byte: header, nfgenmsg, NFTA_TABLE_NAME")
    func request() {
        let expected = Self.bytes(
            hex: "20000000" + "010a" + "0500" + "07000000" + "00000000"  // length 32, GETTABLE, REQUEST|ACK, sequence 7, pid 0
                + "01000000"  // nfgenmsg: NFPROTO_INET, NFNETLINK_V0, resource 0
                + "0b000100" + "6b756b656f6e0000")  // NFTA_TABLE_NAME "kukeon\0", padded
        #expect(NftablesTableQuery.request(name: "kukeon", sequence: 7).finished() == expected)
    }

    @Test("the captured reply gives the table's handle and its comment: the fingerprint and owner kuke wrote")
    func capturedReply() throws {
        let replies = try NetlinkReply.parse(Self.bytes(hex: try Self.fixture("examples-table.hex"))[...])
        #expect(replies.count == 1)
        let table = try #require(replies.first.flatMap(NftablesTableQuery.table(from:)))
        #expect(table == .init(handle: 2, comment: "kuke:48382e5a41988e92 run:/mnt/kukeon"))
        // The same table as the JSON listing captured beside it.
        let listing = try NftablesListing(json: try Self.fixture("examples.json"))
        #expect(listing.tableHandle == table.handle)
        let observed = ObservedFirewall(listing: listing, comment: table.comment)
        #expect(observed.fingerprint == "48382e5a41988e92")
        #expect(observed.owner == FirewallPlanner.owner(runPath: "/mnt/kukeon"))
        #expect(observed.ruleCount == 15)
        #expect(observed.drops == ["kuke-main-blog": 3, "kuke-main-shop": 6, "kuke-mai-500c1c": 0])
    }

    /// The captured reply, renumbered as the answer to request `sequence`.
    static func capturedReply(sequence: UInt32) throws -> [UInt8] {
        var reply = bytes(hex: try fixture("examples-table.hex"))
        reply.replaceSubrange(8..<12, with: Wire.u32(sequence))
        return reply
    }

    @Test("read: the request, then the table from the reply and the acknowledgement after it")
    func read() throws {
        let transport = ReplayTransport(answers: [
            [try Self.capturedReply(sequence: 2), Wire.error(0, sequence: 2, requestType: NftablesTableQuery.getTable)]
        ])
        let table = try NftablesTableQuery.read(name: "kukeon", over: transport)
        #expect(table == .init(handle: 2, comment: "kuke:48382e5a41988e92 run:/mnt/kukeon"))
        #expect(transport.sent == [NftablesTableQuery.request(name: "kukeon", sequence: 2).finished()])
    }

    @Test("read: ENOENT is no table; any other errno is an error that carries it")
    func readErrors() throws {
        let missing = ReplayTransport(answers: [[Wire.error(ENOENT, sequence: 2, requestType: NftablesTableQuery.getTable)]])
        #expect(try NftablesTableQuery.read(name: "kukeon", over: missing) == nil)
        let denied = ReplayTransport(answers: [[Wire.error(EPERM, sequence: 2, requestType: NftablesTableQuery.getTable)]])
        #expect(throws: HostError("nftables: get table inet kukeon: Operation not permitted (EPERM)", errno: .notPermitted)) {
            try NftablesTableQuery.read(name: "kukeon", over: denied)
        }
        let empty = ReplayTransport(answers: [[Wire.error(0, sequence: 2, requestType: NftablesTableQuery.getTable)]])
        #expect(throws: HostError.self) { try NftablesTableQuery.read(name: "kukeon", over: empty) }
    }

    @Test("observe: the kernel's ENOENT is no table, before libnftables is asked; its EPERM is the error")
    func observeMissing() throws {
        let missing = NftablesFirewall { () throws(HostError) in
            ReplayTransport(answers: [[Wire.error(ENOENT, sequence: 2, requestType: NftablesTableQuery.getTable)]])
        }
        #expect(try missing.observe() == nil)
        let denied = NftablesFirewall { () throws(HostError) in
            ReplayTransport(answers: [[Wire.error(EPERM, sequence: 2, requestType: NftablesTableQuery.getTable)]])
        }
        do {
            _ = try denied.observe()
            Issue.record("EPERM was not thrown")
        } catch {
            #expect(error.errno == .notPermitted && error.message.contains("nftables: get table inet kukeon"), "\(error)")
        }
    }

    @Test("user data: the comment among other entries; none; cut short")
    func userData() {
        #expect(NftablesTableQuery.comment(inUserData: [0x01, 0x02, 0xAA, 0xBB, 0x00, 0x03, 0x61, 0x62, 0x00]) == "ab")
        #expect(NftablesTableQuery.comment(inUserData: [0x01, 0x01, 0xAA]) == nil)
        #expect(NftablesTableQuery.comment(inUserData: [0x00, 0x09, 0x61]) == nil)
        #expect(NftablesTableQuery.comment(inUserData: []) == nil)
    }

    @Test("a reply that is not NFT_MSG_NEWTABLE, or has no handle, is no table")
    func otherReplies() {
        let ack = NetlinkReply(type: NetlinkMessage.messageError, flags: 0, sequence: 1, payload: [0, 0, 0, 0][...])
        #expect(NftablesTableQuery.table(from: ack) == nil)
        let noHandle = NetlinkReply(type: NftablesTableQuery.newTable, flags: 0, sequence: 1, payload: [1, 0, 0, 0][...])
        #expect(NftablesTableQuery.table(from: noHandle) == nil)
    }
}
