import Foundation
import KukeEngine
import KukeModel
import Synchronization
import SystemPackage

/// An in-memory host for engine tests without root: files, links and cgroup
/// directories as plain values, and a log of every mutating call.
public final class FakeHost: Sendable {
    public struct State: Sendable {
        public var files: [String: String] = [:]
        public var links: [String: ObservedLink] = [:]
        public var occupied: [OccupiedSubnet] = []
        /// cgroup directories and their `cgroup.subtree_control`.
        public var cgroups: [String: [String]] = [:]
        /// The cgroup root's `cgroup.controllers` (by default what it delegates).
        public var rootControllers: [String] = []
        /// Interface files written, by `path/name`.
        public var cgroupFiles: [String: String] = [:]
        /// The huge page sizes the kernel offers.
        public var hugePageSizes: [String] = ["2MB"]
        /// Cgroups with processes in them.
        public var populated: Set<String> = []
        /// What `checkNamespace` finds at a namespace path; a path missing here is `.usable`.
        public var namespaces: [String: NamespaceCheck] = [:]
        public var rootProblem: String?
        /// Mutating calls, in order (`write /path`, `createBridge x`, …).
        public var log: [String] = []
        /// The isolation table: its last script, or nil when it does not exist. `observe` shows it
        /// as the real nft lists it (see `NftablesRendering`).
        public var firewallScript: String?
        /// The table's handle, as the kernel numbers a table created again by each replace.
        var firewallHandle = 0
        /// How many times the table was listed (`observe()`); a converged pass lists it none.
        public var firewallListings = 0
        /// What `host` rules resolve to; a host missing here fails to resolve.
        public var names: [String: [IPv4Address]] = [:]
        /// AAAA answers of the fake resolver.
        public var names6: [String: [IPv6Address]] = [:]
        /// AAAA lookups that fail with this error instead (an outage: errno EAGAIN).
        public var lookupFailures6: [String: HostError] = [:]
        /// The host's IPv6 addresses and routes.
        public var occupied6: [OccupiedSubnet6] = []
        /// How many lookups were made, per host.
        public var lookups: [String: Int] = [:]
        /// Calls that fail: a log entry prefix and the error to throw.
        public var failures: [String: HostError] = [:]
        /// Directories that exist but cannot be listed.
        public var unlistable: Set<String> = []
        /// A crash point, as `KUKE_TEST_CRASH_AFTER` is for the real drivers: the mutating calls
        /// after this many made change nothing and fail, as if the process had died there.
        public var crashAfter: Int?
        /// Mutating calls made since `crashAfter` was set.
        public var steps = 0
        /// The first call a crash point stopped.
        public var crashedBefore: String?
        var nextIndex: Int32 = 10
    }

    public let state: Mutex<State>
    public let cgroupRoot: String
    /// Whether the fake has an isolation table (off by default, so tests of the other parts see only them).
    public let managesFirewall: Bool

    /// - Parameter offered: the controllers the root delegates (its `cgroup.subtree_control`).
    public init(cgroupRoot: String = "/cg", offered: [String] = ["cpu", "memory", "pids"], firewall: Bool = false) {
        managesFirewall = firewall
        var initial = State()
        initial.cgroups[cgroupRoot] = offered
        initial.rootControllers = offered
        state = Mutex(initial)
        self.cgroupRoot = cgroupRoot
    }

    public var drivers: HostDrivers {
        HostDrivers(
            files: Files(host: self), links: Links(host: self), cgroups: Cgroups(host: self), lock: Lock(),
            firewall: managesFirewall ? Firewall(host: self) : nil, resolver: Resolver(host: self), plugins: Plugins(host: self))
    }

    /// What the real nft and kernel would say of the table kuke wrote: `nft -j list table inet
    /// kukeon` and the table's comment; nil when there is no table.
    public func firewallListing() throws(HostError) -> (json: String, comment: String?)? {
        let (script, handle) = state.withLock { ($0.firewallScript, $0.firewallHandle) }
        guard let script else { return nil }
        do {
            return (try NftablesRendering.json(ofScript: script, tableHandle: handle), NftablesRendering.comment(ofScript: script))
        } catch {
            throw HostError("FakeHost: cannot list the table as nft would: \(error)")
        }
    }

    /// Whether a crash point stopped a call (`crashAfter`).
    public var crashed: Bool { state.withLock { $0.crashedBefore != nil } }

    /// The mutating calls made so far.
    public var log: [String] { state.withLock { $0.log } }

    func record(_ entry: String) throws(HostError) {
        let failure: HostError? = state.withLock { state in
            if let crashAfter = state.crashAfter {
                guard state.steps < crashAfter else {
                    if state.crashedBefore == nil { state.crashedBefore = entry }
                    return HostError("FakeHost: crashed after step \(crashAfter), before \(entry)")
                }
                state.steps += 1
            }
            state.log.append(entry)
            return state.failures.first { entry.hasPrefix($0.key) }?.value
        }
        if let failure { throw failure }
    }

    struct Files: FileStore {
        let host: FakeHost
        func read(_ path: String) throws(HostError) -> String? { host.state.withLock { $0.files[path] } }
        func identity(_ path: String) -> String? {
            host.state.withLock { state in state.files[path].map { "\($0.utf8.count):\($0.hashValue)" } }
        }
        func exists(_ path: String) -> Bool {
            host.state.withLock { state in state.files[path] != nil || state.files.keys.contains { $0.hasPrefix(path + "/") } }
        }
        func write(_ path: String, _ text: String, mode: UInt32) throws(HostError) {
            try host.record("write \(path)")
            host.state.withLock { $0.files[path] = text }
        }
        func remove(_ path: String) throws(HostError) {
            try host.record("remove \(path)")
            host.state.withLock { _ = $0.files.removeValue(forKey: path) }
        }
        func removeTree(_ path: String) throws(HostError) {
            try host.record("removeTree \(path)")
            host.state.withLock { state in state.files = state.files.filter { !$0.key.hasPrefix(path + "/") && $0.key != path } }
        }
        func entries(_ path: String) -> [String] {
            host.state.withLock { state in
                Set(
                    state.files.keys.compactMap { key -> String? in
                        guard key.hasPrefix(path + "/") else { return nil }
                        return key.dropFirst(path.count + 1).split(separator: "/").first.map(String.init)
                    }
                ).sorted()
            }
        }
        func removeDirectory(_ path: String) throws(HostError) {
            try host.record("rmdir-file \(path)")
            let busy = host.state.withLock { state in state.files.keys.contains { $0.hasPrefix(path + "/") } }
            if busy { throw HostError("\(path): rmdir failed: Directory not empty (ENOTEMPTY)", errno: .directoryNotEmpty) }
        }
        func subdirectories(_ path: String) throws(HostError) -> [String] {
            if host.state.withLock({ $0.unlistable.contains(path) }) {
                throw HostError("\(path): open failed: Permission denied (EACCES)", errno: .permissionDenied)
            }
            return host.state.withLock { state in
                Set(
                    state.files.keys.compactMap { key -> String? in
                        guard key.hasPrefix(path + "/") else { return nil }
                        let rest = key.dropFirst(path.count + 1).split(separator: "/")
                        return rest.count >= 2 ? String(rest[0]) : nil
                    }
                ).sorted()
            }
        }
    }

    struct Links: LinkControl {
        let host: FakeHost
        func snapshot() throws(HostError) -> NetworkSnapshot {
            host.state.withLock { NetworkSnapshot(links: Array($0.links.values), occupied: $0.occupied) }
        }
        func createBridge(_ name: String) throws(HostError) {
            try host.record("createBridge \(name)")
            try host.state.withLock { (state: inout State) throws(HostError) in
                if state.links[name] != nil { throw HostError("bridge \"\(name)\": create failed: File exists (EEXIST)", errno: .fileExists) }
                state.nextIndex += 1
                var link = ObservedLink(index: state.nextIndex, name: name, kind: .bridge, isUp: false)
                link.ipv6 = LinkIPv6(disabled: false, acceptsRouterAdvertisements: true, autoconfigures: true)  // the kernel's defaults
                state.links[name] = link
            }
        }
        func occupied6() throws(HostError) -> [OccupiedSubnet6] { host.state.withLock { $0.occupied6 } }
        func setUp(_ name: String, ipv6: Bool) throws(HostError) {
            try host.record("setUp \(name)")
            host.state.withLock {
                $0.links[name]?.isUp = true
                $0.links[name]?.ipv6 = ipv6 ? .dualStackBridge : LinkIPv6(disabled: true, acceptsRouterAdvertisements: true, autoconfigures: true)
            }
        }
        func disableIPv6(_ name: String) throws(HostError) {
            try host.record("disableIPv6 \(name)")
            host.state.withLock { $0.links[name]?.ipv6?.disabled = true }
        }
        func enableIPv6(_ name: String) throws(HostError) {
            try host.record("enableIPv6 \(name)")
            host.state.withLock { $0.links[name]?.ipv6 = .dualStackBridge }
        }
        func delete(_ name: String) throws(HostError) {
            try host.record("deleteLink \(name)")
            host.state.withLock { _ = $0.links.removeValue(forKey: name) }
        }
        func deletePorts(of bridge: String) throws(HostError) {
            try host.record("deletePorts \(bridge)")
            host.state.withLock { state in
                for port in NetworkSnapshot(links: Array(state.links.values)).ports(of: bridge) { state.links[port] = nil }
            }
        }
    }

    /// DEL removes the attachment's port (a link named by its container ID, if there is one) and
    /// its cache entry, as the bridge plugin and libcni would.
    struct Plugins: CNIPlugins {
        let host: FakeHost
        func delete(_ attachment: CNIAttachment, config: String) throws(HostError) {
            try host.record(attachment.netns.isEmpty ? "cniDel \(attachment.containerID) without netns" : "cniDel \(attachment.containerID)")
            host.state.withLock { state in
                state.links["veth-\(attachment.containerID)"] = nil
                state.files[attachment.cachePath] = nil
            }
        }
        func checkNamespace(of attachment: CNIAttachment) -> NamespaceCheck {
            host.state.withLock { $0.namespaces[attachment.netns] ?? .usable }
        }
    }

    struct Cgroups: CgroupControl {
        let host: FakeHost
        func rootProblem() -> String? { host.state.withLock { $0.rootProblem } }
        func isPopulated(_ path: String) throws(HostError) -> Bool {
            host.state.withLock { state in state.populated.contains { $0 == path || $0.hasPrefix(path + "/") } }
        }
        func observe(_ path: String) throws(HostError) -> ObservedCgroup? {
            host.state.withLock { state in
                state.cgroups[path].map {
                    ObservedCgroup(subtreeControl: $0, controllers: Self.controllers(of: path, in: state, root: host.cgroupRoot))
                }
            }
        }
        /// What a directory's parent delegates; the root's own set for the root.
        static func controllers(of path: String, in state: State, root: String) -> [String] {
            guard path != root, let slash = path.lastIndex(of: "/") else { return state.rootControllers }
            return state.cgroups[String(path[..<slash])] ?? []
        }
        func readFile(_ name: String, in path: String) throws(HostError) -> String? {
            host.state.withLock { state in
                guard state.cgroups[path] != nil else { return nil }
                if let text = state.cgroupFiles["\(path)/\(name)"] { return text }
                let controller = String(name.prefix { $0 != "." })
                guard Self.controllers(of: path, in: state, root: host.cgroupRoot).contains(controller) else { return nil }
                switch name {
                case "cpu.max": return "max 100000\n"
                case "cpu.weight": return "100\n"
                case "io.weight": return "default 100\n"
                case "io.max": return ""
                default: return "max\n"
                }
            }
        }
        func writeFile(_ name: String, _ value: String, in path: String) throws(HostError) {
            try host.record("writeCgroupFile \(path)/\(name) \(value)")
            host.state.withLock { state in
                let key = "\(path)/\(name)"
                if name == "io.max", let device = value.split(separator: " ").first {
                    var lines = (state.cgroupFiles[key] ?? "").split(separator: "\n").map(String.init).filter { !$0.hasPrefix("\(device) ") }
                    if !value.hasSuffix("rbps=max wbps=max riops=max wiops=max") { lines.append(value) }
                    state.cgroupFiles[key] = lines.sorted().map { $0 + "\n" }.joined()
                } else {
                    state.cgroupFiles[key] = value + "\n"
                }
            }
        }
        func hugePageSizes() -> [String] { host.state.withLock { $0.hugePageSizes } }
        func makeDirectory(_ path: String) throws(HostError) {
            try host.record("mkdir \(path)")
            host.state.withLock { state in if state.cgroups[path] == nil { state.cgroups[path] = [] } }
        }
        func enable(_ controllers: [String], in path: String) throws(HostError) {
            try host.record("enable \(controllers.joined(separator: " ")) in \(path)")
            host.state.withLock { state in state.cgroups[path] = Array(Set((state.cgroups[path] ?? []) + controllers)).sorted() }
        }
        func removeDirectory(_ path: String) throws(HostError) {
            try host.record("rmdir \(path)")
            host.state.withLock { _ = $0.cgroups.removeValue(forKey: path) }
        }
        func children(_ path: String) throws(HostError) -> [String] {
            host.state.withLock { state in
                state.cgroups.keys.filter { $0.hasPrefix(path + "/") && !$0.dropFirst(path.count + 1).contains("/") }
                    .map { String($0.dropFirst(path.count + 1)) }.sorted()
            }
        }
    }

    /// The table as kuke wrote it, read back through the production decoder from the JSON the
    /// real nft would print for it, with the comment the kernel would give beside it.
    struct Firewall: FirewallControl {
        let host: FakeHost
        /// The comment, the rules and a digest of the chains and rules of the script, as the kernel
        /// would give them (`NftablesRendering.ruleCount(ofScript:)`, `digest(ofScript:)`), without a listing.
        func summary() throws(HostError) -> FirewallSummary? {
            let script = host.state.withLock { $0.firewallScript }
            guard let script else { return nil }
            do {
                return FirewallSummary(
                    comment: NftablesRendering.comment(ofScript: script), ruleCount: try NftablesRendering.ruleCount(ofScript: script),
                    digest: NftablesRendering.digest(ofScript: script))
            } catch {
                throw HostError("FakeHost: cannot count the table's rules as the kernel would: \(error)")
            }
        }
        func observe() throws(HostError) -> ObservedFirewall? {
            host.state.withLock { $0.firewallListings += 1 }
            guard let listed = try host.firewallListing() else { return nil }
            do {
                return ObservedFirewall(listing: try NftablesListing(json: listed.json), comment: listed.comment)
            } catch {
                throw HostError("FakeHost: nft's JSON for the table cannot be read: \(error)")
            }
        }
        func replace(_ script: String) throws(HostError) {
            try host.record("replaceFirewall")
            // `table X` creates the table when it is missing, then `delete` and `table X { … }` make a new one.
            host.state.withLock { state in
                state.firewallHandle += state.firewallScript == nil ? 2 : 1
                state.firewallScript = script
            }
        }
    }

    struct Resolver: NameResolver {
        let host: FakeHost
        func resolveIPv4(_ name: String) throws(HostError) -> [IPv4Address] {
            let found: [IPv4Address]? = host.state.withLock { state in
                state.lookups[name, default: 0] += 1
                return state.names[name]
            }
            guard let found, !found.isEmpty else { throw HostError("egress host \"\(name)\" did not resolve: Name or service not known") }
            return found
        }
        func resolveIPv6(_ name: String) throws(HostError) -> [IPv6Address] {
            if let failure = host.state.withLock({ $0.lookupFailures6[name] }) { throw failure }
            let found: [IPv6Address]? = host.state.withLock { $0.names6[name] }
            guard let found, !found.isEmpty else { throw HostError("egress host \"\(name)\" resolved to no IPv6 addresses") }
            return found
        }

        /// From the fake's files `/etc/resolv.conf` and `/run/systemd/resolve/resolv.conf`.
        func nameservers() throws(HostError) -> HostNameservers {
            let (conf, upstream) = host.state.withLock { ($0.files["/etc/resolv.conf"], $0.files["/run/systemd/resolve/resolv.conf"]) }
            guard let conf else {
                throw HostError("the host's resolvers: /etc/resolv.conf could not be read: No such file or directory", errno: .noSuchFileOrDirectory)
            }
            return try HostNameservers.read(resolvConf: ("/etc/resolv.conf", conf)) { ("/run/systemd/resolve/resolv.conf", upstream) }
        }
    }

    struct Lock: HostLock {
        struct Held: HeldLock { func release() {} }
        func acquire(timeout: Double?) throws(HostError) -> any HeldLock { Held() }
    }
}

/// Words a hint as the data it is (`createRealm("x")`), so a test sees which hint a message carries.
public struct DataHints: HintWording {
    public init() {}
    public func text(_ message: String, hint: Hint) -> String { "\(message); hint: \(words(hint))" }
    public func words(_ hint: Hint) -> String { "\(hint)" }
}
