import Testing

@testable import KukeModel

@Suite("Plain scalar resolution (YAML 1.1, as the table checked against Yams' regular-expression resolver)")
struct PlainScalarTests {
    @Test(
        "tags",
        arguments: [
            ("", YAMLTag.null), ("~", .null), ("null", .null), ("yes", .bool), ("Off", .bool), ("y", .str), ("12", .int),
            ("-0x1F", .int), ("0o17", .int), ("017", .int), ("1_000", .int), ("1:30", .int), ("1.5", .float), ("-.5e+3", .str), (".5e+3", .float),
            (".inf", .float), (".NaN", .float), ("1.2.3", .str), ("blog", .str), ("10.88.0.0/24", .str), ("2026-01-01T00:00:00Z", .str),
            ("v1beta1", .str), ("1e3", .float), ("0x", .str), ("-", .str),
        ])
    func tags(_ text: String, _ tag: YAMLTag) {
        #expect(PlainScalar.tag(of: text) == tag, "\(text)")
    }

    @Test("integer values")
    func integers() {
        #expect(PlainScalar.integer("42") == 42)
        #expect(PlainScalar.integer("-9223372036854775808") == Int64.min)
        #expect(PlainScalar.integer("9223372036854775808") == nil)
        #expect(PlainScalar.integer("0x10") == 16)
        #expect(PlainScalar.integer("1_000") == 1000)
    }
}

@Suite("Plain scalar bytes")
struct PlainScalarBytesTests {
    @Test("every null, boolean and special float is spelled with bytes the fast scan lets through; other bytes make a string")
    func fastScan() {
        for word in PlainScalar.nulls.union(PlainScalar.trues).union(PlainScalar.falses).union(PlainScalar.specialFloats) {
            #expect(word.utf8.allSatisfy { PlainScalar.possible[Int($0)] }, "\(word)")
        }
        for text in ["0x1F", "-0o17", "0b101", "1_000", "1:30", "1.5e+3", "-.5E-3"] {
            #expect(text.utf8.allSatisfy { PlainScalar.possible[Int($0)] }, "\(text)")
        }
        #expect(PlainScalar.tag(of: "10.88.0.0/24") == .str)
        #expect(PlainScalar.tag(of: "2026-01-01T00:00:00Z") == .str)
        #expect(PlainScalar.tag(of: "512Mi") == .str)
        #expect(PlainScalar.tag(of: "1e3") == .float)
    }
}
