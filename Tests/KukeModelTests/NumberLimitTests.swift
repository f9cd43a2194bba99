import Testing

@testable import KukeModel

/// A number in `spec.resources` that once trapped (or sits at a limit), where the issue must
/// point, and words its message must contain.
struct HostileNumber: CustomTestStringConvertible, Sendable {
    /// One line under `resources:`.
    var fragment: String
    /// The text the issue points at (its first occurrence in `fragment`).
    var at: String
    var message: String

    var testDescription: String { fragment }

    /// The manifest, with `fragment` on line 7 from column 5.
    var yaml: String { "apiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec:\n  realmId: main\n  resources:\n    \(fragment)\n" }
    var column: Int { 5 + fragment.distance(from: fragment.startIndex, to: fragment.range(of: at)!.lowerBound) }
}

/// Values whose scaling overflowed 64 bits and stopped kuke with "arithmetic overflow" (exit
/// 132) in apply, diff and doctor, or that sit just past a limit.
let hostileNumbers: [HostileNumber] = [
    // cpu.max: whole × 1000 overflowed from 2^64 / 1000 up.
    HostileNumber(fragment: #"cpu: {max: "18446744073709552"}"#, at: #""18446744073709552""#, message: "is too large: at most 1000000 CPUs"),
    HostileNumber(fragment: "cpu: {max: 18446744073709552}", at: "18446744073709552", message: "is too large: at most 1000000 CPUs"),
    HostileNumber(fragment: "cpu: {max: \"18446744073709551615\"}", at: "\"18446744073709551615\"", message: "is too large"),
    HostileNumber(fragment: "cpu: {max: \"99999999999999999999999\"}", at: "\"99999999999999999999999\"", message: "is too large"),
    HostileNumber(fragment: "cpu: {max: 99999999999999999999999m}", at: "99999999999999999999999m", message: "is too large"),
    HostileNumber(fragment: "cpu: {max: \"1000000.001\"}", at: "\"1000000.001\"", message: "is too large: at most 1000000 CPUs (1000000000m)"),
    HostileNumber(fragment: "cpu: {max: 1000000001m}", at: "1000000001m", message: "is too large"),
    // Byte quantities: the fraction × the unit overflowed (1.999999999Ei, 9.999999999E).
    HostileNumber(fragment: "memory: {max: 1.999999999Ei}", at: "1.999999999Ei", message: "is not a whole number of bytes"),
    HostileNumber(fragment: "memory: {high: 9.999999999E}", at: "9.999999999E", message: "is too large"),
    HostileNumber(fragment: "memory: {swapMax: 8Ei}", at: "8Ei", message: "is too large: at most 9223372036854775807 bytes"),
    HostileNumber(
        fragment: "memory: {max: 9223372036854775808}", at: "9223372036854775808", message: "is too large: at most 9223372036854775807 bytes"),
    HostileNumber(fragment: "memory: {max: 18446744073709551616Ki}", at: "18446744073709551616Ki", message: "is too large"),
    HostileNumber(fragment: "memory: {max: 99999999999999999999999999999}", at: "99999999999999999999999999999", message: "is too large"),
    HostileNumber(
        fragment: "io: {max: [{device: \"8:0\", rbps: 9.3E}]}", at: "9.3E", message: "spec.resources.io.max[0].rbps: \"9.3E\" is too large"),
    HostileNumber(
        fragment: "io: {max: [{device: \"8:0\", wbps: 16Ei}]}", at: "16Ei", message: "spec.resources.io.max[0].wbps: \"16Ei\" is too large"),
    // Counts past what the schema's integers hold.
    HostileNumber(
        fragment: "pids: {max: 99999999999999999999999}", at: "99999999999999999999999", message: "is too large: at most 9223372036854775807"),
    HostileNumber(
        fragment: "io: {max: [{device: \"8:0\", riops: 18446744073709551616}]}", at: "18446744073709551616",
        message: "riops: \"18446744073709551616\" is too large"),
    // Huge page sizes: the number × the unit overflowed, or is past 1024GB.
    HostileNumber(fragment: "hugetlb: [{pageSize: 99999999999GB, max: 1}]", at: "99999999999GB", message: "is not a huge page size"),
    HostileNumber(fragment: "hugetlb: [{pageSize: 99999999999TB, max: 1}]", at: "99999999999TB", message: "is not a huge page size"),
    HostileNumber(fragment: "hugetlb: [{pageSize: 18446744073709551615KB, max: 1}]", at: "18446744073709551615KB", message: "at most 1024GB"),
    HostileNumber(fragment: "hugetlb: [{pageSize: 1025GB, max: max}]", at: "1025GB", message: "at most 1024GB"),
    HostileNumber(fragment: "hugetlb: [{pageSize: 2MB, max: 9999999999999999999999Ei}]", at: "9999999999999999999999Ei", message: "is too large"),
]

@Suite("Numbers never trap")
struct NumberLimitTests {
    @Test("a number past a limit after scaling is a positioned field-value issue, never a trap", arguments: hostileNumbers)
    func refused(_ number: HostileNumber) throws {
        let (resources, issues) = ManifestDecoder.decode(number.yaml, file: "blog.yaml")
        #expect(resources.isEmpty)
        let issue = try #require(issues.first, "no issue for \(number.fragment)")
        #expect(issues.count == 1, "\(issues)")
        #expect(issue.rule == .fieldValue, "\(issue)")
        #expect(issue.position == SourcePosition(file: "blog.yaml", line: 7, column: number.column), "\(issue)")
        #expect(issue.message.contains(number.message), "\(issue.message)")
        #expect(issue.description.hasSuffix("[field-value]"))
    }

    @Test(
        "the largest valid values, and values whose scaling once overflowed, are written exactly",
        arguments: [
            ("cpu: {max: 1000000}", "cpu.max", "100000000000 100000"),
            ("cpu: {max: 1000000000m}", "cpu.max", "100000000000 100000"),
            ("cpu: {max: \"999999.999\"}", "cpu.max", "99999999900 100000"),
            ("cpu: {max: 10m}", "cpu.max", "1000 100000"),
            ("memory: {max: 9223372036854775807}", "memory.max", "9223372036854775807"),
            ("memory: {max: 1.25E}", "memory.max", "1250000000000000000"),
            ("memory: {high: 9.2E}", "memory.high", "9200000000000000000"),
            ("memory: {swapMax: 7.5Ei}", "memory.swap.max", "8646911284551352320"),
            ("memory: {max: 0.000000001E}", "memory.max", "1000000000"),
            ("memory: {high: 0.999999999E}", "memory.high", "999999999000000000"),
            ("memory: {max: 000000000000000000000000001Ki}", "memory.max", "1024"),
            ("pids: {max: 9223372036854775807}", "pids.max", "9223372036854775807"),
            (
                "io: {max: [{device: \"8:0\", rbps: 1.25E, riops: 9223372036854775807}]}", "io.max",
                "rbps=1250000000000000000 wbps=max riops=9223372036854775807 wiops=max"
            ),
            ("hugetlb: [{pageSize: 1024GB, max: 1Ti}]", "hugetlb.1024GB.max", "1099511627776"),
        ])
    func largestValid(_ fragment: String, _ file: String, _ value: String) throws {
        let text = "apiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec:\n  realmId: main\n  resources:\n    \(fragment)\n"
        let (resources, issues) = ManifestDecoder.decode(text, file: "blog.yaml")
        #expect(issues.isEmpty, "\(issues)")
        guard case .space(let space)? = resources.first else {
            Issue.record("no space decoded")
            return
        }
        let setting = try #require(ResourceLimits(space.spec.resources).settings.first { $0.file == file })
        #expect(setting.value == value)
    }

    @Test("a record edited by hand with the same numbers is read without a trap; the field is left out", arguments: hostileNumbers)
    func handEditedRecord(_ number: HostileNumber) throws {
        let record = """
            # kuke record: complete only when it ends with the line below
            apiVersion: v1beta1
            kind: Space
            metadata: {name: blog}
            spec:
              realmId: main
              resources:
                \(number.fragment)
            # end of kuke record

            """
        let stored = try RecordCodec.decodeSpace(record, file: "space.yaml")
        let limits = ResourceLimits(stored.spec.resources)
        // An io.max line keeps its device, each bad field no limit; every other field is left out.
        #expect(limits.settings.allSatisfy { $0.file == "io.max" && $0.value == "rbps=max wbps=max riops=max wiops=max" }, "\(limits)")
        #expect(limits.hugePageSizes.isEmpty)
    }

    @Test(
        "a status.resources key that names no file kuke writes is refused, so it is never read, reset or written",
        arguments: [
            "", " ", "../../etc/passwd", "memory.max/../../../etc/passwd", "memory.max 8:0", "io.max", "io.max sda", "io.max 8:0:1",
            "hugetlb.99999999999GB.max", "hugetlb.max", "cgroup.procs", "cpu.max ",
        ])
    func unknownStatusKey(_ key: String) {
        #expect(ResourceLimits.Setting(key: key, value: "1") == nil)
    }

    @Test("every file kuke writes reads back from its status.resources key")
    func knownStatusKeys() {
        let limits = ResourceLimits(
            .map([
                .init("cpu", .map([.init("max", .string("1.5")), .init("weight", .integer(100))])),
                .init("memory", .map([.init("max", .string("1Gi")), .init("high", .string("1Gi")), .init("swapMax", .integer(0))])),
                .init("pids", .map([.init("max", .integer(10))])),
                .init("io", .map([.init("weight", .integer(10)), .init("max", .list([.map([.init("device", .string("8:0"))])]))])),
                .init("hugetlb", .list([.map([.init("pageSize", .string("2MB")), .init("max", .string("2Mi"))])])),
            ]))
        #expect(limits.settings.count == 9)
        for setting in limits.settings { #expect(ResourceLimits.Setting(key: setting.key, value: setting.value) == setting) }
    }
}
