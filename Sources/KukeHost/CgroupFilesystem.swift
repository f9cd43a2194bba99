import CKukeSys
import Foundation
import Glibc
import KukeEngine
import SystemPackage

/// `CgroupControl` on a real cgroup2 filesystem. Directories, `cgroup.subtree_control` and
/// the interface files a spec's `resources` declare are written; every other file (limits
/// written by an operator) is left as it is.
public struct CgroupFilesystem: CgroupControl {
    /// CGROUP2_SUPER_MAGIC
    static let cgroup2Magic = 0x6367_7270

    public var root: String

    public init(root: String) { self.root = root }

    /// The cgroup2 mount of this host from `/proc/self/mountinfo`: `/sys/fs/cgroup` on a
    /// cgroup-v2-only host, `/sys/fs/cgroup/unified` on a hybrid one; nil when there is none.
    public static func discoverMount(mountinfo: String? = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) -> String? {
        guard let mountinfo else { return nil }
        var mounts: [String] = []
        for line in mountinfo.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2, halves[1].split(separator: " ").first == "cgroup2" else { continue }
            let fields = halves[0].split(separator: " ")
            if fields.count > 4 { mounts.append(unescapeMountPath(String(fields[4]))) }
        }
        return mounts.first { $0 == "/sys/fs/cgroup" } ?? mounts.first { $0.hasPrefix("/sys/fs/cgroup") } ?? mounts.first
    }

    /// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
    static func unescapeMountPath(_ path: String) -> String {
        var out = ""
        var scalars = Array(path.unicodeScalars)[...]
        while let first = scalars.first {
            if first == "\\", scalars.count >= 4, let code = UInt8(String(String.UnicodeScalarView(scalars.dropFirst().prefix(3))), radix: 8) {
                out.unicodeScalars.append(Unicode.Scalar(code))
                scalars = scalars.dropFirst(4)
            } else {
                out.unicodeScalars.append(first)
                scalars = scalars.dropFirst()
            }
        }
        return out
    }

    public func rootProblem() -> String? {
        let magic = ckuke_filesystem_magic(root)
        if magic < 0 {
            return "cgroup root \(root) cannot be used: \(SystemError.text(Int32(-magic)))\(mountHint)"
        }
        if magic != Self.cgroup2Magic {
            let found = magic == 0x0102_1994 ? "tmpfs" : magic == 0x0027_e0eb ? "cgroup v1" : "filesystem magic 0x\(String(magic, radix: 16))"
            return "cgroup root \(root) is not a cgroup2 filesystem (found \(found))\(mountHint)"
        }
        return nil
    }

    var mountHint: String {
        if let mount = Self.discoverMount() { return "; cgroup2 is mounted at \(mount), pass --cgroup-root \(mount)" }
        return "; this host has no cgroup2 mount (mount -t cgroup2 none /sys/fs/cgroup/unified)"
    }

    public func isPopulated(_ path: String) throws(HostError) -> Bool {
        guard let words = try readWords("\(path)/cgroup.events") else { return false }
        guard let index = words.firstIndex(of: "populated"), index + 1 < words.count else { return false }
        return words[index + 1] == "1"
    }

    public func observe(_ path: String) throws(HostError) -> ObservedCgroup? {
        guard let words = try readWords("\(path)/cgroup.subtree_control") else {
            var info = stat()
            if stat(path, &info) == 0 {
                throw HostError("cgroup \(path): exists but has no cgroup.subtree_control; is it inside a cgroup2 filesystem?", errno: .notDirectory)
            }
            return nil
        }
        return ObservedCgroup(subtreeControl: words, controllers: try readWords("\(path)/cgroup.controllers") ?? [])
    }

    public func readFile(_ name: String, in path: String) throws(HostError) -> String? {
        let file = "\(path)/\(name)"
        do throws(Errno) { return try KernelFile.read(file) } catch {
            throw SystemError.hostError("cgroup file \(file): read failed", error.rawValue)
        }
    }

    public func writeFile(_ name: String, _ value: String, in path: String) throws(HostError) {
        let file = "\(path)/\(name)"
        do throws(KernelFile.WriteFailure) { try KernelFile.write(value, to: file) } catch {
            let what = error.opening ? "open failed" : "writing \"\(value)\" failed"
            throw SystemError.hostError("cgroup file \(file): \(what)", error.errno.rawValue)
        }
        FaultInjection.step("write \(file)")
    }

    public func hugePageSizes() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/mm/hugepages")) ?? []
        return names.compactMap { name in
            guard name.hasPrefix("hugepages-"), name.hasSuffix("kB"), let kilobytes = Int(name.dropFirst(10).dropLast(2)) else { return nil }
            return Self.pageSizeName(kilobytes: kilobytes)
        }.sorted()
    }

    /// `2048` → `2MB`, as hugetlb names its files (`hugetlb.2MB.max`).
    static func pageSizeName(kilobytes: Int) -> String {
        if kilobytes % (1 << 20) == 0 { return "\(kilobytes >> 20)GB" }
        if kilobytes % (1 << 10) == 0 { return "\(kilobytes >> 10)MB" }
        return "\(kilobytes)KB"
    }

    /// The words of a cgroup interface file, or nil when it does not exist.
    func readWords(_ path: String) throws(HostError) -> [String]? {
        let text: String?
        do throws(Errno) { text = try KernelFile.read(path) } catch {
            throw SystemError.hostError("cgroup file \(path): read failed", error.rawValue)
        }
        return text?.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    public func makeDirectory(_ path: String) throws(HostError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw SystemError.hostError("cgroup \(path): mkdir failed", errno)
        }
        FaultInjection.step("mkdir \(path)")
    }

    public func enable(_ controllers: [String], in path: String) throws(HostError) {
        let file = "\(path)/cgroup.subtree_control"
        for controller in controllers {
            do throws(KernelFile.WriteFailure) { try KernelFile.write("+\(controller)", to: file) } catch {
                let what = error.opening ? "open cgroup.subtree_control failed" : "delegating \(controller) in cgroup.subtree_control failed"
                throw SystemError.hostError("cgroup \(path): \(what)", error.errno.rawValue)
            }
            FaultInjection.step("enable \(controller) in \(path)")
        }
    }

    public func removeDirectory(_ path: String) throws(HostError) {
        if rmdir(path) != 0 && errno != ENOENT {
            let code = errno
            let hint = code == EBUSY ? " (processes or child cgroups are still in it)" : ""
            throw SystemError.hostError("cgroup \(path): rmdir failed\(hint)", code)
        }
        FaultInjection.step("rmdir \(path)")
    }

    public func children(_ path: String) throws(HostError) -> [String] {
        guard let directory = opendir(path) else {
            if errno == ENOENT { return [] }
            throw SystemError.hostError("cgroup \(path): listing failed", errno)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
