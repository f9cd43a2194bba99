import Foundation
import Glibc
import KukeEngine
import SystemPackage
import Testing

@testable import KukeHost

/// Host pieces that need no root: mount discovery, netlink encoding, atomic files, the lock.
@Suite("Host")
struct HostTests {
    static let hybrid = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """
    static let unifiedOnly = """
        25 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
        90 30 0:40 / /tmp/my\\040cgroup rw,relatime - cgroup2 none rw
        """

    @Test("the cgroup2 mount is found on hybrid and on cgroup-v2-only hosts")
    func discoverMount() {
        #expect(CgroupFilesystem.discoverMount(mountinfo: Self.hybrid) == "/sys/fs/cgroup/unified")
        #expect(CgroupFilesystem.discoverMount(mountinfo: Self.unifiedOnly) == "/sys/fs/cgroup")
        #expect(CgroupFilesystem.discoverMount(mountinfo: "1 2 0:1 / / rw - ext4 /dev/sda rw") == nil)
        #expect(CgroupFilesystem.unescapeMountPath("/tmp/my\\040cgroup") == "/tmp/my cgroup")
    }

    @Test("a directory outside cgroup2 is refused with what was found")
    func rootProblem() throws {
        let problem = try #require(CgroupFilesystem(root: NSTemporaryDirectory()).rootProblem())
        #expect(problem.contains("is not a cgroup2 filesystem"))
        #expect(CgroupFilesystem(root: "/nonexistent/cg").rootProblem()?.contains("No such file or directory (ENOENT)") == true)
    }

    @Test("netlink messages: header length, aligned attributes, nested lengths")
    func netlinkEncoding() throws {
        var message = NetlinkMessage(type: 16, flags: 0x605, sequence: 7)
        message.appendInterfaceInfo()
        message.appendAttribute(type: 3, string: "br0")
        message.appendNested(type: 18) { $0.appendAttribute(type: 1, string: "bridge") }
        let bytes = message.finished()
        #expect(bytes.count == 16 + 16 + 8 + (4 + 12))
        #expect(Array(bytes[0..<4]) == [UInt8(bytes.count), 0, 0, 0])
        #expect(Array(bytes[4..<8]) == [16, 0, 0x05, 0x06])
        #expect(Array(bytes[32..<40]) == [8, 0, 3, 0, 0x62, 0x72, 0x30, 0])  // IFLA_IFNAME "br0\0"
        #expect(Array(bytes[40..<44]) == [16, 0, 18, 0x80])  // IFLA_LINKINFO | NLA_F_NESTED, length 16
        let parsed = NetlinkAttributes(ArraySlice(bytes[32...]))
        #expect(parsed.string(3) == "br0")
        #expect(parsed[18].map { NetlinkAttributes($0).string(1) } == "bridge")
        let replies = try NetlinkReply.parse(ArraySlice(bytes + bytes))
        #expect(replies.count == 2)
        #expect(replies[0].sequence == 7 && replies[0].type == 16)
    }

    @Test("atomic writes replace content, set the mode, leave no temp file; reads of missing files are nil")
    func atomicWrites() throws {
        let directory = NSTemporaryDirectory() + "kuke-files-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = LocalFileStore()
        let path = "\(directory)/a/b/space.yaml"
        #expect(try store.read(path) == nil)
        try store.write(path, "one\n", mode: 0o600)
        try store.write(path, "two\n", mode: 0o600)
        #expect(try store.read(path) == "two\n")
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/a/b") == ["space.yaml"])
        // The identity holds while nothing is written, and changes with any write, even of the same text.
        let identity = try #require(store.identity(path))
        #expect(store.identity(path) == identity)
        try store.write(path, "two\n", mode: 0o600)
        #expect(store.identity(path) != identity)
        #expect(store.identity("\(directory)/a/b") == nil, "a directory has none")
        try store.remove(path)
        try store.remove(path)  // idempotent
        #expect(try store.read(path) == nil)
    }

    @Test("a grouped write replaces every file it can, each atomically, more than one group's worth; one that fails is named and left alone")
    func groupedWrites() throws {
        let directory = NSTemporaryDirectory() + "kuke-files-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = LocalFileStore()
        try store.write("\(directory)/s1/space.yaml", "old\n", mode: 0o600)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "x".write(toFile: "\(directory)/file", atomically: true, encoding: .utf8)
        let count = LocalFileStore.groupSize + 10
        var files = (1...count).map { FileWrite(path: "\(directory)/s\($0)/space.yaml", text: "new \($0)\n", mode: 0o600) }
        files.insert(FileWrite(path: "\(directory)/file/space.yaml", text: "y", mode: 0o644), at: 3)
        let results = store.writeAll(files)
        #expect(results.count == files.count)
        #expect(results.enumerated().filter { $0.element != nil }.map(\.offset) == [3])
        #expect(results[3]?.message.contains("\(directory)/file") == true)
        #expect(try String(contentsOfFile: "\(directory)/file", encoding: .utf8) == "x")
        for number in [1, 2, count] {
            #expect(try store.read("\(directory)/s\(number)/space.yaml") == "new \(number)\n")
            var info = stat()
            #expect(stat("\(directory)/s\(number)/space.yaml", &info) == 0 && info.st_mode & 0o777 == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/s\(number)") == ["space.yaml"], "no temporary file left")
        }
    }

    @Test("a write through a path whose directory is a file fails with a clear error and changes nothing")
    func writeFailure() throws {
        let directory = NSTemporaryDirectory() + "kuke-files-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "x".write(toFile: "\(directory)/file", atomically: true, encoding: .utf8)
        #expect(throws: HostError.self) { try LocalFileStore().write("\(directory)/file/space.yaml", "y", mode: 0o644) }
        #expect(try String(contentsOfFile: "\(directory)/file", encoding: .utf8) == "x")
    }

    @Test(
        "below a root no link is followed, by openat2 or by the walk: writes, reads and removes through a planted link fail and name it",
        arguments: [false, true])
    func plantedLinks(walkOnly: Bool) throws {
        let directory = NSTemporaryDirectory() + "kuke-links-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = "\(directory)/run"
        let victim = "\(directory)/victim"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        try "victim\n".write(toFile: "\(victim)/space.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: "\(run)/main", withDestinationPath: victim)
        try FileManager.default.createSymbolicLink(atPath: "\(run)/file.yaml", withDestinationPath: "\(victim)/space.yaml")
        let store = LocalFileStore(roots: [run])
        if walkOnly {
            // The fallback for kernels without openat2, called directly.
            let rootFD = open(run, O_RDONLY | O_DIRECTORY)
            defer { close(rootFD) }
            #expect(throws: HostError.self) { _ = try store.walk(rootFD, root: run, ["main", "space.yaml"], flags: O_RDONLY, create: false) }
            #expect(throws: HostError.self) { _ = try store.walk(rootFD, root: run, ["file.yaml"], flags: O_RDONLY, create: false) }
            #expect(try store.walk(rootFD, root: run, ["missing", "x"], flags: O_RDONLY, create: false) == nil)
            return
        }
        do {
            try store.write("\(run)/main/space.yaml", "planted\n", mode: 0o644)
            Issue.record("the write went through")
        } catch {
            #expect(error.message == "\(run)/main: is a symbolic link; kuke does not follow links inside the trees it manages")
        }
        #expect(throws: HostError.self) { _ = try store.read("\(run)/main/space.yaml") }
        #expect(throws: HostError.self) { _ = try store.read("\(run)/file.yaml") }
        #expect(throws: HostError.self) { try store.removeTree("\(run)/main/x") }
        #expect(try String(contentsOfFile: "\(victim)/space.yaml", encoding: .utf8) == "victim\n")
        // Replacing the link itself is fine: the rename replaces the link, not its target.
        try store.write("\(run)/file.yaml", "new\n", mode: 0o644)
        #expect(try store.read("\(run)/file.yaml") == "new\n")
        #expect(try String(contentsOfFile: "\(victim)/space.yaml", encoding: .utf8) == "victim\n")
        // A root may itself be a link.
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/linked-run", withDestinationPath: run)
        let linked = LocalFileStore(roots: ["\(directory)/linked-run"])
        try linked.write("\(directory)/linked-run/real/space.yaml", "ok\n", mode: 0o644)
        #expect(try String(contentsOfFile: "\(run)/real/space.yaml", encoding: .utf8) == "ok\n")
        // So may a space's own cniConfigPath directory, outside every root; the file in it is still not followed.
        try FileManager.default.createDirectory(atPath: "\(directory)/cni-real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/cni-link", withDestinationPath: "\(directory)/cni-real")
        try store.write("\(directory)/cni-link/main-blog.conflist", "{}\n", mode: 0o644)
        #expect(try String(contentsOfFile: "\(directory)/cni-real/main-blog.conflist", encoding: .utf8) == "{}\n")
        try store.remove("\(directory)/cni-link/main-blog.conflist")
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/cni-real/main-blog.conflist"))
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/cni-real/x.conflist", withDestinationPath: "\(victim)/space.yaml")
        #expect(throws: HostError.self) { _ = try store.read("\(directory)/cni-link/x.conflist") }
        // A FIFO where a record belongs is refused at once, never opened for reading (which would block).
        #expect(mkfifo("\(run)/fifo.yaml", 0o644) == 0)
        do {
            _ = try store.read("\(run)/fifo.yaml")
            Issue.record("a FIFO was read")
        } catch {
            #expect(error.message == "\(run)/fifo.yaml: is not a regular file")
        }
    }

    @Test("the host lock excludes a second holder and times out with a clear message")
    func hostLock() throws {
        let directory = NSTemporaryDirectory() + "kuke-lock-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lock = FlockHostLock(path: "\(directory)/.kuke.lock")
        let held = try lock.acquire(timeout: nil)
        do {
            _ = try lock.acquire(timeout: 0.05)
            Issue.record("a second holder got the lock")
        } catch {
            #expect(error.errno == .timedOut)
            #expect(error.message.contains("still held by another kuke"))
        }
        held.release()
        try lock.acquire(timeout: 0).release()
    }
}

@Suite("Typed errno")
struct TypedErrnoTests {
    @Test("a HostError carries its errno as a value: matched by name in a catch, printed by its C name in the message")
    func matching() {
        func fail() throws(HostError) { throw SystemError.hostError("link \"x\": delete failed", ENODEV) }
        var matched = false
        do { try fail() } catch Errno.operationNotSupportedByDevice { matched = true } catch { Issue.record("not matched: \(error)") }
        #expect(matched)
        #expect(SystemError.hostError("x", EEXIST).message == "x: File exists (EEXIST)")
        #expect(SystemError.hostError("x", EEXIST).errno == .fileExists)
    }
}

@Suite("loaded libraries")
struct LoadedLibrariesTests {
    @Test("finds each mapped file of a library once, by the start of its name, paths with spaces kept")
    func parsesMaps() {
        let maps = """
            5562af729000-5562af72b000 r--p 00000000 fe:00 253911                     /usr/local/bin/kuke
            7f6909f26000-7f6909f30000 r--p 00000000 fe:00 1001                       /usr/lib/x86_64-linux-gnu/libnftables.so.1.1.0
            7f6909f30000-7f6909f90000 r-xp 0000a000 fe:00 1001                       /usr/lib/x86_64-linux-gnu/libnftables.so.1.1.0
            7f6909f90000-7f6909f99000 r--p 00000000 fe:00 1002                       /opt/my swift/lib/libswiftCore.so
            7f6909f99000-7f6909f9a000 r--p 00000000 fe:00 1003                       /usr/lib/x86_64-linux-gnu/libnftablesextra.so.2
            7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0                          [stack]
            """
        #expect(LoadedLibraries.files(named: "libnftables", maps: maps) == ["/usr/lib/x86_64-linux-gnu/libnftables.so.1.1.0"])
        #expect(LoadedLibraries.files(named: "libswiftCore", maps: maps) == ["/opt/my swift/lib/libswiftCore.so"])
        #expect(LoadedLibraries.files(named: "libinotifytools", maps: maps).isEmpty)
        #expect(LoadedLibraries.files(named: "libnftables", maps: nil).isEmpty)
    }

    @Test("this test process maps libnftables, which it links")
    func readsItsOwnMaps() {
        #expect(LoadedLibraries.files(named: "libnftables").first?.contains("libnftables.so") == true)
    }
}

@Suite("doctor probe")
struct DoctorProbeTests {
    @Test("networkd: the first file by name across directories wins; /etc hides a same-named file; masks and other match keys do not match")
    func networkdFirstMatch() {
        let directories: [String: [String: String]] = [
            "/etc/systemd/network": [
                "20-wired.network": "[Match]\nName=en*\n[Network]\nDHCP=yes\n",
                "05-masked.network": "",
                "50-mac.network": "[Match]\nMACAddress=00:11:22:33:44:55\n",
            ],
            "/lib/systemd/network": [
                "05-masked.network": "[Match]\nName=*\n",
                "10-kuke-unmanaged.network": "# kuke\n[Match]\nName=kuke-*\n\n[Link]\nUnmanaged=yes\n",
                "99-all.network": "[Match]\nName=*\n[Network]\nDHCP=yes\n",
            ],
        ]
        let files = NetworkdFiles.load(
            directories: ["/etc/systemd/network", "/lib/systemd/network"], list: { Array(directories[$0, default: [:]].keys) },
            read: { path in
                let directory = String(path[..<path.lastIndex(of: "/")!])
                return directories[directory]?[String(path[path.index(after: path.lastIndex(of: "/")!)...])]
            })
        #expect(files.map(\.0).first == "/etc/systemd/network/05-masked.network")
        let match = NetworkdFiles.firstMatch(for: "kuke-main-blog", in: files)
        #expect(match?.file == "/lib/systemd/network/10-kuke-unmanaged.network" && match?.unmanaged == true)
        // Without the unmanaged file, the catch-all takes the bridge.
        let without = files.filter { !$0.0.hasSuffix("10-kuke-unmanaged.network") }
        let catchAll = NetworkdFiles.firstMatch(for: "kuke-main-blog", in: without)
        #expect(catchAll?.file == "/lib/systemd/network/99-all.network" && catchAll?.unmanaged == false)
        #expect(NetworkdFiles.firstMatch(for: "kuke-x", in: [("/a.network", "[Match]\nName=!kuke-* lo\n")]) == nil)
        #expect(NetworkdFiles.firstMatch(for: "kuke-x", in: [("/a.network", "[Match]\nType=bridge\n")])?.file == "/a.network")
        #expect(NetworkdFiles.firstMatch(for: "kuke-x", in: [("/a.network", "[Match]\nType=ether\n")]) == nil)
    }

    @Test("controllers bound to cgroup v1 are read from mountinfo's v1 mounts (blkio is io)")
    func v1Controllers() {
        #expect(HostProbe.v1Controllers(mountinfo: HostTests.hybrid) == ["cpu"])
        let mountinfo = """
            32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
            33 31 0:30 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
            34 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            35 31 0:32 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """
        #expect(HostProbe.v1Controllers(mountinfo: mountinfo) == ["cpu", "io", "memory"])
        #expect(HostProbe.v1Controllers(mountinfo: "41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw").isEmpty)
    }
}

@Suite("bridge IPv6 settings")
struct BridgeIPv6Tests {
    @Test("writes 1 to the bridge's disable_ipv6; no IPv6 sysctl tree (a kernel without IPv6) is not an error; a missing bridge is")
    func disableIPv6() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-ipv6-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/conf/kuke-main-blog", withIntermediateDirectories: true)
        try "0\n".write(toFile: "\(root)/conf/kuke-main-blog/disable_ipv6", atomically: false, encoding: .utf8)
        try NetlinkLinkControl.write("1", to: "disable_ipv6", on: "kuke-main-blog", sysctl: "\(root)/conf")
        #expect(try String(contentsOfFile: "\(root)/conf/kuke-main-blog/disable_ipv6", encoding: .utf8).hasPrefix("1"))
        try NetlinkLinkControl.write("1", to: "disable_ipv6", on: "kuke-main-blog", sysctl: "\(root)/no-ipv6")
        #expect(throws: HostError.self) { try NetlinkLinkControl.write("1", to: "disable_ipv6", on: "kuke-main-gone", sysctl: "\(root)/conf") }
    }

    @Test("a dual-stack bridge: accept_ra and autoconf 0, then IPv6 on; a kernel without IPv6 is an error for it")
    func enableIPv6() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-ipv6-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/conf/kuke-main-blog", withIntermediateDirectories: true)
        for (name, value) in [("disable_ipv6", "1"), ("accept_ra", "1"), ("autoconf", "1")] {
            try "\(value)\n".write(toFile: "\(root)/conf/kuke-main-blog/\(name)", atomically: false, encoding: .utf8)
        }
        let control = NetlinkLinkControl(ipv6Sysctl: "\(root)/conf") { () throws(HostError) in throw HostError("no netlink here") }
        try control.enableIPv6("kuke-main-blog")
        for name in ["disable_ipv6", "accept_ra", "autoconf"] {
            #expect(try String(contentsOfFile: "\(root)/conf/kuke-main-blog/\(name)", encoding: .utf8).hasPrefix("0"), "\(name)")
        }
        let none = NetlinkLinkControl(ipv6Sysctl: "\(root)/no-ipv6") { () throws(HostError) in throw HostError("no netlink here") }
        #expect(throws: HostError.self) { try none.enableIPv6("kuke-main-blog") }
    }
}
