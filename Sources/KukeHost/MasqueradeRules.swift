import Glibc
import KukeEngine

/// The masquerade rules the bridge plugin wrote for one attachment, removed after its DEL.
///
/// The bridge plugin (1.1) tears them down only when DEL has the container's namespace: without
/// one (a stopped container, or a runtime whose cache kept no usable path) they stay in the nat
/// table, a `POSTROUTING` jump and a `CNI-<hash>` chain, each rule commented
/// `name: "<network>" id: "<container id>"`. Exactly those are removed, in iptables-nft and in
/// iptables-legacy (whichever the plugin's `iptables` was), and for a dual-stack space's IPv6
/// address in ip6tables-nft and ip6tables-legacy. This runs `iptables` processes: it is
/// a teardown path, once per attachment on `delete --cascade`, never a reconcile pass.
struct MasqueradeRules: Sendable {
    /// The front ends looked at: `iptables-nft` and `ip6tables-nft`, and the legacy ones when
    /// their nat table exists.
    var frontEnds: [String] = ["iptables-nft", "iptables-legacy", "ip6tables-nft", "ip6tables-legacy"]
    /// Searched for the front ends.
    var directories: [String] = ["/usr/sbin", "/sbin", "/usr/local/sbin"]

    /// `iptables -t nat -D POSTROUTING …`, then `-F` and `-X` of the attachment's chains.
    func remove(network: String, containerID: String) throws(HostError) {
        let comment = Self.comment(network: network, containerID: containerID)
        for name in frontEnds {
            let candidates = directories.map { directory in "\(directory)/\(name)" }
            guard let executable = candidates.first(where: { path in access(path, X_OK) == 0 }) else { continue }
            // Listing a legacy table that does not exist would create it (and load its module).
            let tables = name.hasPrefix("ip6") ? "/proc/net/ip6_tables_names" : "/proc/net/ip_tables_names"
            if name.hasSuffix("-legacy"), !(ProcFile.read(tables) ?? "").split(separator: "\n").contains("nat") {
                continue
            }
            let listing = try run(executable, ["-S"])
            for arguments in Self.plan(listing: listing, comment: comment) { _ = try run(executable, arguments) }
        }
    }

    func run(_ executable: String, _ arguments: [String]) throws(HostError) -> String {
        let result = try PluginProcess.run(
            executable, arguments: ["-t", "nat", "-w", "5"] + arguments, environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], input: "")
        guard result.status == 0 else {
            let errors = result.errors.split(separator: "\n").first.map(String.init) ?? "exit \(result.status)"
            throw HostError("\(executable) -t nat \(arguments.joined(separator: " ")): \(errors)")
        }
        return result.output
    }

    /// The comment the plugins put on each rule (`utils.FormatComment`: Go's `%q` of each).
    static func comment(network: String, containerID: String) -> String {
        "name: \(goQuoted(network)) id: \(goQuoted(containerID))"
    }

    static func goQuoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// One `-A CHAIN …` line of `iptables -S`.
    struct Rule: Equatable {
        var chain: String
        /// What follows `-A CHAIN`, one argument each.
        var arguments: [String]

        /// The value of `--comment`, if any.
        var comment: String? { value(of: "--comment") }
        /// The value of `-j`, the chain or target it jumps to.
        var target: String? { value(of: "-j") }

        func value(of option: String) -> String? {
            arguments.firstIndex(of: option).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
        }
    }

    /// The chains a listing declares (`-N`) and its rules (`-A`).
    static func parse(_ listing: String) -> (chains: [String], rules: [Rule]) {
        var chains: [String] = []
        var rules: [Rule] = []
        for line in listing.split(separator: "\n") {
            let words = arguments(of: String(line))
            guard words.count >= 2 else { continue }
            if words[0] == "-N" { chains.append(words[1]) }
            if words[0] == "-A" { rules.append(Rule(chain: words[1], arguments: Array(words.dropFirst(2)))) }
        }
        return (chains, rules)
    }

    /// The words of a listing line, as the shell would split them: `iptables -S` puts an argument
    /// with spaces in double quotes, with `\"` and `\\` inside.
    static func arguments(of line: String) -> [String] {
        var words: [String] = []
        var word = ""
        var started = false
        var quoted = false
        var escaped = false
        for character in line {
            if escaped {
                word.append(character)
                escaped = false
            } else if quoted && character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
                started = true
            } else if character == " " && !quoted {
                if started { words.append(word) }
                word = ""
                started = false
            } else {
                word.append(character)
                started = true
            }
        }
        if started { words.append(word) }
        return words
    }

    /// The iptables arguments (after `-t nat`) that remove the rules commented `comment`: the
    /// jumps to them first, then each `CNI-` chain they own (flushed, then deleted). A chain that
    /// also holds a rule with another comment keeps it: only the attachment's rules go.
    static func plan(listing: String, comment: String) -> [[String]] {
        let (chains, rules) = parse(listing)
        let owned = rules.filter { $0.comment == comment }
        let ownedChains = Set(
            owned.compactMap { rule in rule.chain.hasPrefix("CNI-") ? rule.chain : rule.target.flatMap { $0.hasPrefix("CNI-") ? $0 : nil } }
        ).filter(chains.contains)
        var commands: [[String]] = owned.filter { !ownedChains.contains($0.chain) }.map { ["-D", $0.chain] + $0.arguments }
        for chain in ownedChains.sorted() {
            let inChain = rules.filter { $0.chain == chain }
            if inChain.allSatisfy({ $0.comment == comment }) {
                commands += [["-F", chain], ["-X", chain]]
            } else {
                commands += inChain.filter { $0.comment == comment }.map { ["-D", chain] + $0.arguments }
            }
        }
        return commands
    }
}
