import ArgumentParser
import Foundation
import KukeEngine
import KukeHost
import KukeModel

struct DescribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show one resource as recorded and as the host holds it now.", subcommands: [DescribeSpaceCommand.self])
}

struct DescribeSpaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "space",
        abstract: "One space: its spec and status, and each part as observed now.",
        discussion: """
            Reads the record, then looks at the host: the bridge (state and the interfaces attached to it), \
            the conflist (whether it holds what the record says), the cgroup (its directory and every limit \
            kuke wrote, as the kernel holds it), and the space's rules in the isolation table (with the \
            packets dropped). Read-only; no lock. Needs root to read the bridge ports and the table.

            Example:
              kuke describe space blog --realm main
            """, aliases: ["spaces"])

    @Argument(help: "The space's name.") var name: String
    @Option(help: "The realm the space belongs to.") var realm: String
    @OptionGroup var host: HostOptions

    func run() throws {
        let console = Console.current
        let inventory = try loadInventory(host, console, realm: realm)
        let id = SpaceID(realm: realm, name: name)
        guard let record = inventory.spaces[id] else {
            console.error("error: space \"\(name)\" not found in realm \"\(realm)\"")
            throw ExitCode(ExitStatus.failed)
        }
        let layout = try host.layout(console)
        let drivers = HostFactory.drivers(for: layout)
        var lines: [String] = []
        // Each value escaped (`VisibleText`): a reason or label value cannot forge a line.
        func add(_ label: String, _ value: String) {
            lines.append(label.padding(toLength: 16, withPad: " ", startingAt: 0) + VisibleText.escaped(value))
        }
        add("Name:", record.metadata.name)
        add("Realm:", record.spec.realmId)
        let stale = BootFreshness.isStale(record.status.state, recordBoot: record.status.bootId, currentBoot: inventory.bootID)
        add(
            "State:",
            stale
                ? "Stale (Ready in an earlier boot; this kernel holds its bridge, cgroup and rules only after a pass: kuke apply, or kuke-watch's start)"
                : record.status.state.rawValue + (record.status.reason.map { " (\($0))" } ?? ""))
        if let message = record.status.message { add("Message:", message) }
        add(
            "Generation:",
            "\(record.metadata.generation.map(String.init) ?? "-") (observed \(record.status.observedGeneration.map(String.init) ?? "-"))")
        add("Created:", record.status.createdAt.map(Timestamp.format) ?? "-")
        add("Updated:", record.status.updatedAt.map(Timestamp.format) ?? "-")
        add(
            "Labels:",
            record.metadata.labels.isEmpty
                ? "-" : record.metadata.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        if let source = record.status.source { add("Source:", source) }
        if let owner = record.status.managedBy { add("Managed by:", owner) }

        guard let network = record.status.network else {
            add("Network:", "- (no network recorded)")
            console.writeOut(lines.joined(separator: "\n") + "\n")
            return
        }
        add("Subnet:", network.subnet.description)
        if let ipv6 = network.ipv6Subnet { add("IPv6 subnet:", "\(ipv6) (dual-stack)") }
        let link = inventory.network.links[network.bridge]
        let ports = inventory.network.ports(of: network.bridge)
        let bridgeState =
            link.map { link in
                (link.kind == .bridge ? (link.isUp ? "up" : "down") : "not a bridge (\(link.kind ?? "no kind"))")
                    + ", \(ports.count) interface(s) attached\(ports.isEmpty ? "" : ": " + ports.joined(separator: ", "))"
            } ?? "missing"
        add("Bridge:", "\(network.bridge) (\(bridgeState))")
        let expected = Conflist(networkName: network.name, bridge: network.bridge, subnet: network.subnet, ipv6Subnet: network.ipv6Subnet)
        var conflist = "missing"
        do {
            if let text = try drivers.files.read(network.conflistPath) {
                let same = (try? JSONParser.parse(text)) == expected.json
                conflist =
                    "hash \(String(BridgeName.fnv1a64(Array(text.utf8)), radix: 16)), \(same ? "as recorded" : "differs from the record (kuke diff shows how)")"
            }
        } catch {
            conflist = "cannot be read: \(error.message)"
        }
        add("Conflist:", "\(network.conflistPath) (\(conflist))")

        let cgroupPath = layout.spaceCgroup(id)
        let cgroup = try? drivers.cgroups.observe(cgroupPath)
        let delegated = cgroup.map { $0.subtreeControl.isEmpty ? "delegates nothing" : "delegates " + $0.subtreeControl.joined(separator: " ") }
        add("Cgroup:", "\(cgroupPath) (\(delegated ?? "missing"))")
        if let slice = layout.spaceSlice(id) {
            add("Slice:", "\(slice) (cgroup driver systemd: \(cgroup == nil ? "not running" : "running"), its limits are its unit properties)")
        }
        for (key, value) in (record.status.resources ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let setting = ResourceLimits.Setting(key: key, value: value) else {
                add("  Limit:", "\(key) \(value) (not a file kuke writes: the record was edited by hand)")
                continue
            }
            let text = try? drivers.cgroups.readFile(setting.file, in: cgroupPath)
            let held = text.map { ResourceLimits.observedValue(of: setting, in: $0) }
            let state = held.map { ResourceLimits.matches(observed: $0, setting: setting) ? "held" : "the kernel holds \($0)" } ?? "file missing"
            add("  Limit:", "\(key) \(value) (\(state))")
        }

        if let firewall = FirewallSpace(record: record) {
            do {
                if let observed = try drivers.firewall?.observe() {
                    let held = observed.holding([firewall]).contains(id)
                    let egress = firewall.egress.map { "egress denied but for \($0.count) rule(s)" } ?? "egress open"
                    add(
                        "Isolation:",
                        "\(held ? "rules in table inet kukeon" : "NO rules in the kernel") (\(egress), \(observed.drops[network.bridge] ?? 0) packets dropped)"
                    )
                } else {
                    add("Isolation:", "NO table inet kukeon in the kernel")
                }
            } catch {
                add("Isolation:", "unknown: \(error.message)")
            }
            if record.spec.egress?.allowsDNS == true {
                let servers = record.status.egress?.nameservers ?? []
                add(
                    "DNS:",
                    servers.isEmpty
                        ? "allowed, but no resolver was read (see the record's reason)"
                        : "allowed to \(servers.map(\.description).joined(separator: ", ")) (the host's resolvers at the last apply), UDP and TCP 53")
            }
        }
        console.writeOut(lines.joined(separator: "\n") + "\n")
    }
}
