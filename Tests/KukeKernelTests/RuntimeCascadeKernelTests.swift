import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import Testing

/// Issue 21, item 6: `delete --cascade` with real containers of Debian's runtimes attached,
/// Podman 4.3 (CNI backend, runc) and containerd 1.6 (`ctr run --cni`), one live and one already
/// stopped each. Neither runtime caches a `netns`; the bridge plugin's DEL without one leaves its
/// masquerade rules, which kuke removes. The runtimes keep their CNI state where libcni's default
/// is, so `/var/lib/cni` (and, for `ctr`, `/etc/cni/net.d` and `/opt/cni/bin`) are bound to the
/// sandbox's directories in the test's own mount namespace (`unshare --mount`) for the test.
@Suite("Kernel: cascade with real runtimes", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct RuntimeCascadeKernelTests {
    static let manifest = FailClosedKernelTests.realm + FailClosedKernelTests.space("blog")
    static let podmanMissing = RuntimeHost.missing(["podman", "conmon", "runc", "nsenter"])
    static let containerdMissing = RuntimeHost.missing(["containerd", "ctr", "runc", "nsenter", "iptables-legacy"])

    @Test(
        "Podman 4.3: a live and a stopped container (no netns in their cache entries); SpaceInUse names both, --cascade leaves no rule, veth, lease or entry",
        .enabled(
            if: podmanMissing.isEmpty && RuntimeHost.privateMounts,
            "needs \(podmanMissing) and busybox-static (scripts/install-deps), under unshare --mount")
    )
    func podman() throws {
        try KernelSandbox.with { sandbox in
            let host = try RuntimeHost(sandbox)
            defer { host.cleanUp() }
            #expect(sandbox.kuke("apply", "-f", try sandbox.writeManifest("blog.yaml", Self.manifest)).status == 0)
            let podman = try host.podman()
            defer { _ = podman(["rm", "-f", "-a"]) }
            let image = try host.rootfsTar()
            #expect(podman(["import", image, "localhost/bb"]).status == 0)
            let run = { (name: String) in
                podman([
                    "run", "-d", "--name", name, "--network", "main-blog", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                    "localhost/bb",
                    "/bin/sleep", "600",
                ])
            }
            let (live, stopped) = (run("blog1"), run("blog2"))
            #expect(live.status == 0 && stopped.status == 0, "\(live)\n\(stopped)")
            let ids = [live, stopped].map { $0.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
            // blog2 stops as a crash or a reboot leaves it: conmon and the container killed, so
            // Podman's own cleanup never runs, and its namespace mount gone with /run.
            let inspect = podman(["inspect", "-f", "{{.State.ConmonPid}} {{.State.Pid}} {{.NetworkSettings.SandboxKey}}", "blog2"])
            let fields = inspect.stdout.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
            #expect(fields.count == 3, "\(inspect)")
            for pid in fields.prefix(2) { kill(pid_t(pid) ?? 0, SIGKILL) }
            #expect(Subprocess.waitUntil { kill(pid_t(fields[1]) ?? 0, 0) != 0 })
            umount2(fields[2], Int32(MNT_DETACH))
            unlink(fields[2])

            try host.checkCascade(containers: ids, prefixes: ids.map { String($0.prefix(12)) + " (eth0)" })
        }
    }

    @Test(
        "containerd 1.6 (ctr run --cni, iptables-legacy): a live and a stopped container; SpaceInUse names default-blog1 and default-blog2, --cascade leaves nothing",
        .enabled(
            if: containerdMissing.isEmpty && RuntimeHost.privateMounts,
            "needs \(containerdMissing) and busybox-static (scripts/install-deps), under unshare --mount")
    )
    func containerd() throws {
        try KernelSandbox.with { sandbox in
            let host = try RuntimeHost(sandbox)
            defer { host.cleanUp() }
            #expect(sandbox.kuke("apply", "-f", try sandbox.writeManifest("blog.yaml", Self.manifest)).status == 0)
            let ctr = try host.containerd()
            defer { host.stopContainerd(ctr, containers: ["blog1", "blog2"]) }
            #expect(ctr(["images", "import", "--snapshotter", "native", try host.ociImage()]).status == 0)
            for name in ["blog1", "blog2"] {
                let run = ctr(["run", "--snapshotter", "native", "--cni", "-d", "localhost/bb:latest", name])
                #expect(run.status == 0, "\(run)")
            }
            #expect(ctr(["task", "kill", "-s", "KILL", "blog2"]).status == 0)
            #expect(
                Subprocess.waitUntil {
                    ctr(["task", "ls"]).stdout.split(separator: "\n").contains { $0.hasPrefix("blog2 ") && $0.contains("STOPPED") }
                })
            let ids = ["default-blog1", "default-blog2"]
            // kuke runs as the runtime did, with the host's iptables (here legacy) first in PATH.
            try host.checkCascade(containers: ids, prefixes: ids.map { "\($0) (eth0)" }, path: host.legacyPath)
        }
    }
}

/// The runtimes' view of a sandbox: the bind mounts, their configuration, the checks.
final class RuntimeHost {
    let sandbox: KernelSandbox
    var mounted: [String] = []
    var created: [String] = []

    /// The programs of `names` not found in PATH (and busybox-static's `/bin/busybox`).
    static func missing(_ names: [String]) -> [String] {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin"
        let directories = path.split(separator: ":").map(String.init)
        let absent = names.filter { name in !directories.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") } }
        return absent + (FileManager.default.isExecutableFile(atPath: "/bin/busybox") ? [] : ["busybox"])
    }

    /// Whether this process's mounts are its own (`unshare --mount`: the root mount is not shared
    /// with the host's), so the binds below never reach the host.
    static let privateMounts: Bool = {
        let info = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        guard let root = info.split(separator: "\n").first(where: { $0.split(separator: " ").dropFirst(4).first == "/" }) else { return false }
        return !root.contains("shared:")
    }()

    init(_ sandbox: KernelSandbox) throws {
        self.sandbox = sandbox
        try FileManager.default.createDirectory(atPath: "\(sandbox.cniStateDirectory)/results", withIntermediateDirectories: true)
        for (target, source) in [
            ("/var/lib/cni", sandbox.cniStateDirectory), ("/etc/cni/net.d", sandbox.cniDirectory), ("/opt/cni/bin", KernelSandbox.pluginDirectory),
        ] {
            var path = ""
            for part in target.split(separator: "/") {
                path += "/\(part)"
                if mkdir(path, 0o755) == 0 { created.append(path) }
            }
            guard mount(source, target, nil, UInt(MS_BIND), nil) == 0 else {
                cleanUp()
                throw KernelSandbox.SetupError(description: "mount --bind \(source) \(target): \(String(cString: strerror(errno)))")
            }
            mounted.append(target)
        }
    }

    /// Unmounts the binds and whatever the runtimes left mounted in the sandbox, and removes the
    /// directories made for the binds.
    func cleanUp() {
        let info = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let leftovers = info.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst(4).first.map(String.init) }
            .filter { $0.hasPrefix(sandbox.directory + "/") && $0 != sandbox.cgroupMount }
        for path in leftovers.reversed() + mounted.reversed() { umount2(path, Int32(MNT_DETACH)) }
        mounted = []
        for path in created.reversed() { rmdir(path) }
        created = []
    }

    /// Runs a command in the sandbox's network namespace without `ip netns exec`, whose fresh
    /// /sys hides the cgroup mounts runc needs.
    func inSandbox(_ arguments: [String], environment: [String: String] = [:]) -> Subprocess.Result {
        Subprocess.run(
            ["nsenter", "--net=/run/netns/\(sandbox.namespace)"] + arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    }

    /// A root filesystem of busybox-static, `sleep` and `sh`, as a tar file.
    func rootfsTar() throws -> String {
        let rootfs = "\(sandbox.directory)/rootfs"
        try FileManager.default.createDirectory(atPath: "\(rootfs)/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: "\(rootfs)/bin/busybox")
        for name in ["sh", "sleep"] { try FileManager.default.createSymbolicLink(atPath: "\(rootfs)/bin/\(name)", withDestinationPath: "busybox") }
        let tar = "\(sandbox.directory)/rootfs.tar"
        guard Subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."]).status == 0 else { throw KernelSandbox.SetupError(description: "tar \(rootfs)") }
        return tar
    }

    /// Podman with its storage, state and configuration in the sandbox: the CNI backend on kuke's
    /// CNI directory, runc, vfs, cgroupfs.
    func podman() throws -> ([String]) -> Subprocess.Result {
        let base = "\(sandbox.directory)/podman"
        let config = """
            [network]
            network_backend = "cni"
            network_config_dir = "\(sandbox.cniDirectory)"
            cni_plugin_dirs = ["\(KernelSandbox.pluginDirectory)"]
            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "none"
            runtime = "runc"
            """
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try config.write(toFile: "\(base)/containers.conf", atomically: true, encoding: .utf8)
        let global = ["--root", "\(base)/root", "--runroot", "\(base)/run", "--tmpdir", "\(base)/tmp", "--storage-driver", "vfs"]
        return { arguments in
            self.inSandbox(["podman"] + global + arguments, environment: ["CONTAINERS_CONF": "\(base)/containers.conf"])
        }
    }

    /// containerd started in the sandbox with its own configuration, root, state and socket, and
    /// a `ctr` for it whose `iptables` is iptables-legacy (so the bridge plugin writes there).
    func containerd() throws -> ([String]) -> Subprocess.Result {
        let base = "\(sandbox.directory)/containerd"
        try FileManager.default.createDirectory(atPath: "\(base)/bin", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(base)/bin/iptables", withDestinationPath: "/usr/sbin/iptables-legacy")
        let config = """
            version = 2
            root = "\(base)/root"
            state = "\(base)/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "\(base)/containerd.sock"
            """
        try config.write(toFile: "\(base)/config.toml", atomically: true, encoding: .utf8)
        guard
            let daemon = Subprocess.start(["nsenter", "--net=/run/netns/\(sandbox.namespace)", "containerd", "--config", "\(base)/config.toml"])
        else { throw KernelSandbox.SetupError(description: "containerd did not start") }
        daemonProcess = daemon
        guard Subprocess.waitUntil({ FileManager.default.fileExists(atPath: "\(base)/containerd.sock") }) else {
            throw KernelSandbox.SetupError(description: "containerd's socket did not appear: \(daemon.stderr)")
        }
        let path = legacyPath
        return { arguments in self.inSandbox(["ctr", "--address", "\(base)/containerd.sock"] + arguments, environment: ["PATH": path]) }
    }

    /// A PATH whose `iptables` is iptables-legacy, as on a host whose alternative is set so.
    var legacyPath: String {
        "\(sandbox.directory)/containerd/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")
    }

    var daemonProcess: Subprocess.Running?

    /// Removes the containers' tasks and containers, then stops containerd.
    func stopContainerd(_ ctr: ([String]) -> Subprocess.Result, containers: [String]) {
        for name in containers {
            _ = ctr(["task", "kill", "-s", "KILL", name])
            _ = Subprocess.waitUntil(timeout: 5) {
                ctr(["task", "rm", "-f", name]).status == 0 || ctr(["task", "ls"]).stdout.contains(name) == false
            }
            _ = ctr(["container", "rm", name])
        }
        daemonProcess?.signal(SIGTERM)
        _ = daemonProcess?.wait(timeout: 10)
    }

    /// An OCI image layout of the busybox-static root filesystem, built by hand (one layer, a
    /// config, a manifest, an index naming it `localhost/bb:latest`), as a tar for `ctr images import`.
    func ociImage() throws -> String {
        let layer = try rootfsTar()
        let layout = "\(sandbox.directory)/oci"
        try FileManager.default.createDirectory(atPath: "\(layout)/blobs/sha256", withIntermediateDirectories: true)
        func blob(_ data: Data) throws -> (digest: String, size: Int) {
            let file = "\(layout)/blob.tmp"
            try data.write(to: URL(fileURLWithPath: file))
            let digest = String(Subprocess.run(["sha256sum", file]).stdout.prefix(64))
            try FileManager.default.moveItem(atPath: file, toPath: "\(layout)/blobs/sha256/\(digest)")
            return ("sha256:\(digest)", data.count)
        }
        let layerBlob = try blob(try Data(contentsOf: URL(fileURLWithPath: layer)))
        let configBlob = try blob(
            Data(
                #"{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sleep","600"]},"rootfs":{"type":"layers","diff_ids":["\#(layerBlob.digest)"]}}"#
                    .utf8))
        let manifestBlob = try blob(
            Data(
                #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(configBlob.digest)","size":\#(configBlob.size)},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\#(layerBlob.digest)","size":\#(layerBlob.size)}]}"#
                    .utf8))
        try
            #"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\#(manifestBlob.digest)","size":\#(manifestBlob.size),"annotations":{"io.containerd.image.name":"localhost/bb:latest","org.opencontainers.image.ref.name":"latest"}}]}"#
            .write(toFile: "\(layout)/index.json", atomically: true, encoding: .utf8)
        try #"{"imageLayoutVersion":"1.0.0"}"#.write(toFile: "\(layout)/oci-layout", atomically: true, encoding: .utf8)
        let tar = "\(sandbox.directory)/oci.tar"
        guard Subprocess.run(["tar", "-C", layout, "-cf", tar, "."]).status == 0 else { throw KernelSandbox.SetupError(description: "tar \(layout)") }
        return tar
    }

    /// The nat rules of network main-blog in iptables-nft and iptables-legacy (`-S` lines).
    func masqueradeRules() -> [String] {
        ["iptables-nft", "iptables-legacy"].flatMap { frontEnd in
            sandbox.run([frontEnd, "-t", "nat", "-S"]).stdout.split(separator: "\n").map { "\(frontEnd): \($0)" }
                .filter { $0.contains(#"name: \"main-blog\""#) || $0.contains("-N CNI-") }
        }
    }

    /// The refusal names each attachment (`prefixes`), the dry run and --cascade detach them, and
    /// nothing of them is left: masquerade rules, veths, leases, cache entries.
    func checkCascade(containers: [String], prefixes: [String], path: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var environment = sandbox.environment
        environment["PATH"] = path ?? environment["PATH"]
        let kuke = { (arguments: [String]) in
            Subprocess.run(["ip", "netns", "exec", self.sandbox.namespace, self.sandbox.kukeBinary] + arguments, environment: environment)
        }
        let results = "\(sandbox.cniStateDirectory)/results"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: results)) ?? []
        #expect(Set(entries) == Set(containers.map { "main-blog-\($0)-eth0" }), "\(entries)", sourceLocation: sourceLocation)
        #expect(masqueradeRules().filter { $0.contains("-A POSTROUTING") }.count == 2, "\(masqueradeRules())", sourceLocation: sourceLocation)
        let refused = kuke(["delete", "space", "blog", "--realm", "main"])
        #expect(refused.status == 1 && refused.stdout.contains("SpaceInUse"), "\(refused)", sourceLocation: sourceLocation)
        for prefix in prefixes { #expect(refused.stdout.contains(prefix), "\(prefix): \(refused)", sourceLocation: sourceLocation) }
        let dry = kuke(["delete", "space", "blog", "--realm", "main", "--cascade", "--dry-run"])
        #expect(dry.status == 0 && dry.stdout.contains("without a network namespace"), "\(dry)", sourceLocation: sourceLocation)

        let deleted = kuke(["delete", "space", "blog", "--realm", "main", "--cascade"])
        #expect(deleted.status == 0, "\(deleted)", sourceLocation: sourceLocation)
        #expect(masqueradeRules().isEmpty, "\(masqueradeRules())", sourceLocation: sourceLocation)
        #expect(sandbox.links().filter { $0.value == "veth" || $0.value == "bridge" }.isEmpty, "\(sandbox.links())", sourceLocation: sourceLocation)
        #expect(!sandbox.exists("\(sandbox.cniStateDirectory)/networks/main-blog"), "no lease is left", sourceLocation: sourceLocation)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: results)) ?? []).isEmpty, sourceLocation: sourceLocation)
    }
}
