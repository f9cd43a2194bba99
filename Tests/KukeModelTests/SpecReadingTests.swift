import Testing

@testable import KukeModel

/// A spec's fields are read once into typed values, by the readers validation uses: what
/// validates is what is enforced, and the tree as written is what round-trips.
@Suite("Spec reading")
struct SpecReadingTests {
    static let entries: [ManifestValue] = [
        .map([.init("cidr", .string("10.1.2.3/8"))]),
        .map([.init("cidr", .string("fd00::1/8")), .init("ports", .list([.string("53/udp"), .integer(443)]))]),
        .map([.init("host", .string("Example.COM"))]),
        .map([.init("host", .string("example.com")), .init("ports", .list([.string("icmp")]))]),
        .map([.init("host", .string("10.0.0.1"))]),
        .map([.init("cidr", .string("10.0.0.0/33"))]),
        .map([.init("cidr", .string("10.0.0.0/8")), .init("host", .string("a.b"))]),
        .map([]),
        .map([.init("cidr", .string("10.0.0.0/8")), .init("ports", .list([]))]),
        .map([.init("cidr", .string("10.0.0.0/8")), .init("ports", .list([.integer(80), .string("53/tcpp")]))]),
    ]

    static func network(_ entries: [ManifestValue]) -> ManifestValue {
        .map([.init("egress", .map([.init("default", .string("deny")), .init("allow", .list(entries))]))])
    }

    @Test("validation refuses exactly the rules the policy would not enforce", arguments: entries.indices)
    func oneReader(_ index: Int) {
        let entry = Self.entries[index]
        let issues = EgressRules.issues(Self.network([entry]), positions: [:], document: SourcePosition(file: "f", line: 1, column: 1))
        let enforced = EgressPolicy(network: Self.network([entry]))?.rules ?? []
        #expect(issues.isEmpty == (enforced.count == 1), "\(issues) \(enforced)")
    }

    @Test("the typed values follow the tree: read at init and whenever a field is set; equality is the tree's")
    func typedValues() {
        var spec = SpaceSpec(realmId: "main", network: Self.network([Self.entries[0]]))
        #expect(spec.egress?.rules.map(\.target) == [.cidr(IPv4Address("10.0.0.0")!, prefix: 8)])
        #expect(spec.ipv6 == nil && spec.limits.settings.isEmpty && spec.selector == nil)
        spec.network = .map([.init("ipv6", .boolean(true))])
        #expect(spec.egress == nil && spec.ipv6 == true)
        spec.resources = .map([.init("pids", .map([.init("max", .integer(100))]))])
        #expect(spec.limits.settings == [ResourceLimits.Setting(file: "pids.max", value: "100")])
        spec.hostSelector = .map([.init("matchLabels", .map([.init("role", .string("web"))]))])
        #expect(spec.selector?.matches(["role": "web"]) == true && spec.selector?.matches(["role": "db"]) == false)
        let same = SpaceSpec(realmId: "main", network: spec.network, resources: spec.resources, hostSelector: spec.hostSelector)
        #expect(same == spec)

        var realm = RealmSpec(network: .map([.init("ipv6", .boolean(true))]))
        #expect(SpaceSpec(realmId: "main").wantsIPv6(realm: realm))
        #expect(!SpaceSpec(realmId: "main", network: .map([.init("ipv6", .boolean(false))])).wantsIPv6(realm: realm))
        realm.network = nil
        #expect(realm.ipv6 == nil && !SpaceSpec(realmId: "main").wantsIPv6(realm: realm))
    }

    static let expressions: [ManifestValue] = [
        .map([.init("key", .string("role")), .init("operator", .string("In")), .init("values", .list([.string("web")]))]),
        .map([.init("key", .string("gpu")), .init("operator", .string("Exists"))]),
        .map([.init("key", .string("bad key!")), .init("operator", .string("Exists"))]),
        .map([.init("key", .string("role")), .init("operator", .string("In")), .init("values", .list([]))]),
        .map([.init("key", .string("role")), .init("operator", .string("Exists")), .init("values", .list([.string("x")]))]),
        .map([.init("operator", .string("In"))]),
        .map([.init("key", .string("role"))]),
        .map([.init("key", .string("role")), .init("operator", .string("NotIn")), .init("values", .list([.string("bad value!")]))]),
    ]

    @Test(
        "a hostSelector expression validates exactly when the selector reads it; one that does not read selects no host",
        arguments: expressions.indices)
    func selectorOneReader(_ index: Int) throws {
        let value = ManifestValue.map([.init("matchExpressions", .list([Self.expressions[index]]))])
        let issues = HostSelector.issues(value, labelEntries: [], positions: [:], document: SourcePosition(file: "f", line: 1, column: 1))
        let selector = try #require(HostSelector(value))
        #expect(issues.isEmpty == !selector.unreadable, "\(issues) \(selector)")
        if selector.unreadable {
            #expect(!selector.matches(["role": "web", "gpu": "a100"]) && !selector.matches([:]))
        }
    }
}
