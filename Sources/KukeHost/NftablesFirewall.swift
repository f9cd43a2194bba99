import CKukeSys
import CNftables
import KukeEngine

/// `FirewallControl` through libnftables, the library `nft` itself uses: the table is
/// replaced by one script, which the kernel applies as one transaction. No `nft` process.
public struct NftablesFirewall: FirewallControl {
    /// Opens the NETLINK_NETFILTER transport of one `observe`: a new `NetlinkSocket`, or a test's replay.
    let openTransport: @Sendable () throws(HostError) -> any NetlinkTransport

    public init() {
        self.init { () throws(HostError) in try NetlinkSocket(family: NETLINK_NETFILTER) }
    }

    init(openTransport: @escaping @Sendable () throws(HostError) -> any NetlinkTransport) {
        self.openTransport = openTransport
    }

    /// Runs nft commands; the output (JSON when `json`), or the library's error text.
    func run(_ commands: String, json: Bool = false) -> (ok: Bool, output: String, error: String) {
        guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else { return (false, "", "cannot create an nftables context") }
        defer { nft_ctx_free(context) }
        if json { nft_ctx_output_set_flags(context, nft_ctx_output_get_flags(context) | UInt32(NFT_CTX_OUTPUT_JSON)) }
        nft_ctx_buffer_output(context)
        nft_ctx_buffer_error(context)
        let status = nft_run_cmd_from_buffer(context, commands)
        let output = nft_ctx_get_output_buffer(context).map { String(cString: $0) } ?? ""
        let error = nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
        return (status == 0, output, error)
    }

    /// Nil when nf_tables answers this process (the `list tables` a firewall needs first: a
    /// NETLINK_NETFILTER socket, CAP_NET_ADMIN, the module loaded); else what went wrong.
    public func probe() -> String? {
        let result = run("list tables")
        return result.ok ? nil : "nftables: " + Self.firstLine(result.error.isEmpty ? "list tables failed" : result.error)
    }

    /// The table's comment and flags, its rule count and the digest of its chains and rules, all
    /// from the kernel over one nfnetlink socket, no listing: the table (`NftablesTableQuery`),
    /// its chains and rules (`NftablesRuleQuery`), then the table again. The reading is the
    /// table's when its handle did not change in between (kuke replaces the table whole, so a new
    /// write has a new handle); otherwise it is read again.
    public func summary() throws(HostError) -> FirewallSummary? {
        let name = String(FirewallPlanner.table.dropFirst("inet ".count))
        let session = NetlinkSession(transport: try openTransport())
        for _ in 0..<3 {
            guard let table = try NftablesTableQuery.read(name: name, over: session) else { return nil }
            let reading = try NftablesRuleQuery.read(table: name, over: session)
            guard let after = try NftablesTableQuery.read(name: name, over: session) else { return nil }
            if after.handle == table.handle {
                return FirewallSummary(comment: table.comment, ruleCount: reading.ruleCount, digest: reading.digest, dormant: after.dormant)
            }
        }
        throw HostError("nftables: list rules of table \(FirewallPlanner.table) failed: the table was replaced while it was read")
    }

    /// The table in two reads: the kernel's own description of it (whether it exists, its handle,
    /// its comment: see `NftablesTableQuery`), then its chains, rules and counters from
    /// `nft -j list table inet kukeon`. The two are one table when their handles agree; a table
    /// replaced or deleted in between is read again.
    public func observe() throws(HostError) -> ObservedFirewall? {
        let name = String(FirewallPlanner.table.dropFirst("inet ".count))
        var problem = ""
        for _ in 0..<3 {
            guard let table = try NftablesTableQuery.read(name: name, over: try openTransport()) else { return nil }
            let result = run("list table \(FirewallPlanner.table)", json: true)
            guard result.ok else {
                problem = Self.firstLine(result.error)
                continue
            }
            let listing: NftablesListing
            do {
                listing = try NftablesListing(json: result.output)
            } catch {
                throw HostError("nftables: list table \(FirewallPlanner.table): its JSON cannot be read: \(error)")
            }
            if listing.tableHandle == table.handle {
                var observed = ObservedFirewall(listing: listing, comment: table.comment)
                observed.dormant = table.dormant
                return observed
            }
            problem = "the table was replaced while it was read"
        }
        throw HostError("nftables: list table \(FirewallPlanner.table) failed: \(problem)")
    }

    public func replace(_ script: String) throws(HostError) {
        let result = run(script)
        guard result.ok else { throw HostError("nftables: replacing table \(FirewallPlanner.table) failed: \(Self.firstLine(result.error))") }
        FaultInjection.step("replace table \(FirewallPlanner.table)")
    }

    static func firstLine(_ text: String) -> String {
        text.split(separator: "\n").first.map(String.init) ?? "unknown error"
    }
}
