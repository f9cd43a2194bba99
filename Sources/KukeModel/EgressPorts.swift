/// What an egress `allow` rule's `ports` let through, besides its destination: port ranges per
/// transport protocol, and ICMP. Written as a list of entries: an integer is a TCP port (what
/// `ports` always meant); a string is `PORT[/PROTO]` or `FROM-TO[/PROTO]` with PROTO one of
/// `tcp` (the default), `udp`, `sctp`; and `icmp` stands for ICMP and ICMPv6. No entry at all
/// means any protocol and port.
///
/// Kept normalized (ranges sorted per protocol, overlapping ones merged), so the kernel, which
/// refuses overlapping elements in a concatenated set, is given none. Ranges that only touch
/// (`80`, `81`) are kept apart: integer ports render and fingerprint as they always did.
public struct EgressPorts: Sendable, Hashable, ExpressibleByArrayLiteral {
    /// A protocol with ports.
    public enum Transport: String, Sendable, Hashable, CaseIterable, Comparable {
        case tcp, udp, sctp

        public static func < (a: Transport, b: Transport) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    /// `low...high` of one protocol.
    public struct Range: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var transport: Transport
        public var low: Int
        public var high: Int

        public init(_ transport: Transport, _ low: Int, _ high: Int) {
            self.transport = transport
            self.low = low
            self.high = high
        }

        public static func < (a: Range, b: Range) -> Bool { (a.transport, a.low, a.high) < (b.transport, b.low, b.high) }

        /// `443`, `8000-8100`: the port part, without the protocol.
        public var portText: String { low == high ? String(low) : "\(low)-\(high)" }

        /// `443` for TCP (as an integer entry reads), `53/udp`, `8000-8100/sctp`.
        public var description: String { transport == .tcp ? portText : "\(portText)/\(transport.rawValue)" }
    }

    /// Sorted by protocol then port, merged.
    public private(set) var ranges: [Range]
    /// Whether ICMP (and ICMPv6) is let through.
    public private(set) var icmp: Bool

    public init(ranges: [Range] = [], icmp: Bool = false) {
        self.ranges = Self.merged(ranges)
        self.icmp = icmp
    }

    /// TCP ports, as integer entries read: `[80, 443]`.
    public init(arrayLiteral ports: Int...) {
        self.init(ranges: ports.map { Range(.tcp, $0, $0) })
    }

    /// No entry: any protocol and port.
    public static let any = EgressPorts(ranges: [], icmp: false)

    public var isAny: Bool { ranges.isEmpty && !icmp }

    /// The protocols with ports, in order.
    public var transports: [Transport] { Array(Set(ranges.map(\.transport))).sorted() }

    /// The entries as they would be written back, normalized: `80, 443, 53/udp, icmp`.
    public var entries: [String] { ranges.map(\.description) + (icmp ? ["icmp"] : []) }

    /// Ranges of the same protocol that overlap, merged.
    static func merged(_ ranges: [Range]) -> [Range] {
        var result: [Range] = []
        for range in ranges.sorted() {
            if let last = result.last, last.transport == range.transport, range.low <= last.high {
                result[result.count - 1].high = max(last.high, range.high)
            } else {
                result.append(range)
            }
        }
        return result
    }

    /// One entry of a `ports` list read: a range of one protocol, or ICMP.
    public enum Entry: Sendable, Equatable {
        case range(Range)
        case icmp
    }

    /// Reads one entry of `ports`; the error says which rule it breaks. Shared by the
    /// manifest's validation (with positions) and the policy kuke enforces, so they never differ.
    public static func entry(_ value: ManifestValue) -> Result<Entry, EntryError> {
        switch value {
        case .integer(let port):
            guard (1...65535).contains(port) else { return .failure(EntryError("\(port) is out of range 1...65535")) }
            return .success(.range(Range(.tcp, Int(port), Int(port))))
        case .string(let text):
            return entry(text)
        default:
            return .failure(EntryError("expected a port (like 443, \"53/udp\", \"8000-8100/tcp\" or \"icmp\")"))
        }
    }

    /// `443`, `53/udp`, `8000-8100/tcp`, `icmp`.
    static func entry(_ text: String) -> Result<Entry, EntryError> {
        let shown = "\"\(text.count > 40 ? String(text.prefix(40)) + "…" : text)\""
        if text == "icmp" { return .success(.icmp) }
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var transport = Transport.tcp
        if parts.count == 2 {
            if parts[0] == "icmp" { return .failure(EntryError("\(shown): icmp has no ports; write \"icmp\" alone")) }
            guard let named = Transport(rawValue: String(parts[1])) else {
                return .failure(EntryError("\(shown): protocol \"\(parts[1])\" is not one of tcp, udp, sctp (or write \"icmp\" alone)"))
            }
            transport = named
        }
        let bounds = parts[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        var numbers: [Int] = []
        for bound in bounds {
            guard !bound.isEmpty, bound.count <= 5, bound.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(bound) else {
                return .failure(
                    EntryError("\(shown) is not a port entry: write PORT[/PROTO] or FROM-TO[/PROTO] (like \"53/udp\"), or \"icmp\""))
            }
            guard (1...65535).contains(port) else { return .failure(EntryError("\(shown): port \(port) is out of range 1...65535")) }
            numbers.append(port)
        }
        if numbers.count == 2, numbers[0] > numbers[1] {
            return .failure(EntryError("\(shown): the range starts above its end"))
        }
        return .success(.range(Range(transport, numbers[0], numbers.last!)))
    }

    /// Why an entry is refused.
    public struct EntryError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        /// The entry's index in its list, once `parse` knows it.
        public var index: Int?
        init(_ description: String, index: Int? = nil) {
            self.description = description
            self.index = index
        }
    }

    /// The ports of a `ports` list; the first entry refused (with its index) when one is.
    public static func parse(_ items: [ManifestValue]) -> Result<EgressPorts, EntryError> {
        var ranges: [Range] = []
        var icmp = false
        for (index, item) in items.enumerated() {
            switch entry(item) {
            case .success(.range(let range)): ranges.append(range)
            case .success(.icmp): icmp = true
            case .failure(let error): return .failure(EntryError(error.description, index: index))
            }
        }
        return .success(EgressPorts(ranges: ranges, icmp: icmp))
    }
}
