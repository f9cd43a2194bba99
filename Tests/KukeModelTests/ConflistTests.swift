import Foundation
import Testing

@testable import KukeModel

@Suite("Conflist and JSON")
struct ConflistTests {
    let conflist = Conflist(networkName: "main-blog", bridge: "kuke-main-blog", subnet: IPv4Subnet("10.88.1.0/24")!)

    @Test("canonical text: sorted keys, two-space indent, final newline")
    func canonical() {
        let text = conflist.text
        #expect(text.hasPrefix("{\n  \"cniVersion\": \"1.0.0\",\n  \"name\": \"main-blog\",\n  \"plugins\": [\n"))
        #expect(text.hasSuffix("}\n"))
        #expect(text.contains("\"type\": \"host-local\""))
        let keys = ["bridge", "ipMasq", "ipam", "isGateway", "type"].map { "\n      \"\($0)\":" }
        let offsets = keys.map { text.range(of: $0)!.lowerBound }
        #expect(offsets == offsets.sorted())
    }

    @Test("the values are read back from the file")
    func readBack() throws {
        let parsed = try JSONParser.parse(conflist.text)
        #expect(parsed == conflist.json)
        #expect(Conflist.recordedValues(in: parsed) == conflist)
    }

    @Test("JSON parser handles escapes and rejects garbage")
    func parser() throws {
        #expect(
            try JSONParser.parse(#"{"a": ["x\ny", 1.5, true, null, "\u00e9"]}"#)
                == .object(["a": .array([.string("x\ny"), .number(1.5), .bool(true), .null, .string("é")])]))
        #expect((try? JSONParser.parse("{\"a\": }")) == nil)
        #expect((try? JSONParser.parse("{} x")) == nil)
        #expect((try? JSONParser.parse(String(repeating: "[", count: 100))) == nil)
    }
}

@Suite("Conflist: golden file")
struct ConflistGoldenTests {
    @Test(
        "the conflist kuke writes is byte for byte the committed fixture (written by hand from the design: sorted keys, two-space indent, final newline)"
    )
    func golden() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/conflist/main-blog.conflist")
        let expected = try Data(contentsOf: fixture)
        let text = Conflist(networkName: "main-blog", bridge: "kuke-main-blog", subnet: IPv4Subnet("10.88.1.0/24")!).text
        #expect(Data(text.utf8) == expected, "\(text)")
    }
}

@Suite("Ranges claimed by other network configurations")
struct ClaimedRangesTests {
    @Test(
        "host-local ranges and subnet, and static addresses, claim their networks; IPv6 and malformed entries claim nothing",
        arguments: [
            (#"{"plugins": [{"type": "bridge", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]]}}]}"#, ["10.88.0.0/16"]),
            (#"{"type": "bridge", "ipam": {"type": "host-local", "subnet": "10.89.0.0/24"}}"#, ["10.89.0.0/24"]),
            (
                #"{"plugins": [{"type": "macvlan", "ipam": {"type": "static", "addresses": [{"address": "10.88.5.7/24", "gateway": "10.88.5.1"}]}}]}"#,
                ["10.88.5.0/24"]
            ),
            (
                #"{"type": "bridge", "ipam": {"type": "static", "addresses": [{"address": "10.88.5.7/24"}, {"address": "192.168.9.1/16"}, {"address": "fd00::5/64"}]}}"#,
                ["10.88.5.0/24", "192.168.0.0/16"]
            ),
            (
                #"{"type": "bridge", "ipam": {"type": "static", "addresses": [{"address": "10.88.5.7"}, {"address": "10.88.5.7/33"}, {"address": 5}, "x", {}]}}"#,
                []
            ),
            (#"{"type": "bridge", "ipam": {"type": "static", "addresses": {"address": "10.88.5.7/24"}}}"#, []),
        ])
    func claims(_ configuration: String, _ claimed: [String]) throws {
        #expect(ClaimedRanges.subnets(in: try JSONParser.parse(configuration)).map(\.description) == claimed)
    }
}
