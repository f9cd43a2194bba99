import CNftables
import KukeEngine

/// `FirewallControl` through libnftables, the library `nft` itself uses: the table is
/// replaced by one script, which the kernel applies as one transaction. No `nft` process.
public struct NftablesFirewall: FirewallControl {
    public init() {}

    /// Runs nft commands; the output, or the library's error text.
    func run(_ commands: String) -> (ok: Bool, output: String, error: String) {
        guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else { return (false, "", "cannot create an nftables context") }
        defer { nft_ctx_free(context) }
        nft_ctx_buffer_output(context)
        nft_ctx_buffer_error(context)
        let status = nft_run_cmd_from_buffer(context, commands)
        let output = nft_ctx_get_output_buffer(context).map { String(cString: $0) } ?? ""
        let error = nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
        return (status == 0, output, error)
    }

    public func observe() throws(HostError) -> ObservedFirewall? {
        let result = run("list table \(FirewallPlanner.table)")
        guard result.ok else {
            if result.error.contains("No such file or directory") { return nil }
            throw HostError("nftables: list table \(FirewallPlanner.table) failed: \(Self.firstLine(result.error))")
        }
        return ObservedFirewall(listing: result.output)
    }

    public func replace(_ script: String) throws(HostError) {
        let result = run(script)
        guard result.ok else { throw HostError("nftables: replacing table \(FirewallPlanner.table) failed: \(Self.firstLine(result.error))") }
        FaultInjection.step("replace table \(FirewallPlanner.table)")
    }

    public func delete() throws(HostError) {
        let result = run("delete table \(FirewallPlanner.table)")
        guard result.ok || result.error.contains("No such file or directory") else {
            throw HostError("nftables: delete table \(FirewallPlanner.table) failed: \(Self.firstLine(result.error))")
        }
        FaultInjection.step("delete table \(FirewallPlanner.table)")
    }

    static func firstLine(_ text: String) -> String {
        text.split(separator: "\n").first.map(String.init) ?? "unknown error"
    }
}
