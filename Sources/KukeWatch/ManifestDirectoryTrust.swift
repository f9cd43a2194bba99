import Foundation
import Glibc
import KukeEngine

/// Whether a manifest directory can be trusted, as sshd's `StrictModes` judges `~/.ssh`.
///
/// `kuke watch` runs as root and does what the manifests say, so whoever can write to the
/// directory controls the host's networks as root. A directory is trusted when nobody but
/// root (or the user kuke runs as) can change what kuke reads:
///
/// - the watched directory, every directory below it and every manifest file (`*.yaml`,
///   `*.yml`) kuke reads there are not writable by group or others;
/// - every directory the path to it passes through, up to `/`, is not writable by group or
///   others unless it has the sticky bit (a sticky `/tmp` lets nobody rename what is not theirs);
/// - all of these are owned by root or by the user kuke runs as.
///
/// Symbolic links are followed as the watcher follows them: for git-sync's `DIR/current ->
/// .worktrees/REV`, both the link's directory chain and the target's are checked. Below the
/// root, entries are visited as `ManifestLoader` reads them (hidden ones skipped, links
/// leading outside the directory left to the loader, which refuses them).
public enum ManifestDirectoryTrust {
    /// One path that makes a directory untrusted, with the command that fixes it.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// What is wrong with the path.
        public enum Kind: Sendable, Hashable {
            /// Writable by group or others, inside the watched tree (or the watched directory itself).
            case writable
            /// Writable by group or others without the sticky bit, above the watched directory.
            case writableAbove(watched: String)
            /// Owned by a user other than root or the user kuke runs as.
            case owner
        }

        public var path: String
        public var kind: Kind
        /// The owner's user name, or its uid when it has none.
        public var owner: String
        /// The permission bits, sticky bit included.
        public var mode: mode_t

        /// `0755`, `1777`.
        public var octalMode: String {
            let digits = String(mode & 0o7777, radix: 8)
            return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }

        /// The command that fixes this problem.
        public var fix: String {
            switch kind {
            case .writable, .writableAbove: "chmod go-w \(path)"
            case .owner: "chown root \(path)"
            }
        }

        /// `group and others`, `group` or `others`.
        var writers: String {
            switch (mode & S_IWGRP != 0, mode & S_IWOTH != 0) {
            case (true, true): "group and others"
            case (true, false): "group"
            default: "others"
            }
        }

        public var description: String {
            let what: String
            switch kind {
            case .writable: what = "writable by \(writers)"
            case .writableAbove(let watched): what = "a directory above \(watched), writable by \(writers) without the sticky bit"
            case .owner: what = "owned by \(owner), not by root or the user kuke runs as"
            }
            return "\(path): \(what) (owner \(owner), mode \(octalMode)); fix: \(fix)"
        }
    }

    /// Why `kuke watch` refuses to start: every problem found, the first ones listed.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        /// Problems listed in the message; the rest are counted.
        static let listed = 10

        public var roots: [String]
        public var problems: [Problem]

        public var description: String { lines.joined(separator: "\n") }

        /// The message, one line each: the refusal, then the problems.
        public var lines: [String] {
            var lines = [
                "refusing to watch \(roots.joined(separator: ", ")): whoever can write there controls this host's networks as root, "
                    + "and these paths let others write"
            ]
            lines += problems.prefix(Self.listed).map { "  \($0)" }
            if problems.count > Self.listed {
                let trees = roots.map { "chmod -R go-w \($0)" }.joined(separator: "; ")
                lines.append("  … and \(problems.count - Self.listed) more (\(trees) fixes a whole tree)")
            }
            return lines
        }
    }

    /// Checks every root; throws a `Refusal` listing every problem found.
    /// `trustedOwners` defaults to root and the effective user.
    public static func check(_ roots: [String], trustedOwners: Set<uid_t> = [0, geteuid()]) throws(Refusal) {
        let found = problems(in: roots, trustedOwners: trustedOwners)
        if !found.isEmpty { throw Refusal(roots: roots, problems: found) }
    }

    /// Every problem of `roots`, in the order met: the path to each root from `/`, then its tree.
    public static func problems(in roots: [String], trustedOwners: Set<uid_t> = [0, geteuid()]) -> [Problem] {
        var inspector = Inspector(trustedOwners: trustedOwners)
        for root in roots {
            let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
            let (traversed, target) = traversal(of: absolute)
            for directory in traversed { inspector.inspect(directory, role: .above(watched: root)) }
            guard let target else { continue }  // unresolvable: the watcher reports it
            inspector.inspectTree(target, boundary: target)
        }
        return inspector.problems
    }

    /// The directories the kernel looks names up in to resolve `path` (from `/`, following
    /// every symbolic link, through each link's own directory and then its target's), and the
    /// real path reached, or nil when the path does not resolve.
    static func traversal(of path: String) -> (directories: [String], target: String?) {
        var pending = Array(path.split(separator: "/").reversed())
        var current = "/"
        var directories: [String] = []
        var links = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                current = (current as NSString).deletingLastPathComponent
                continue
            }
            if !directories.contains(current) { directories.append(current) }
            let candidate = current == "/" ? "/\(component)" : "\(current)/\(component)"
            var info = stat()
            guard lstat(candidate, &info) == 0 else { return (directories, nil) }
            guard info.st_mode & S_IFMT == S_IFLNK else {
                current = candidate
                continue
            }
            links += 1
            guard links <= 40, let target = readLink(candidate) else { return (directories, nil) }  // 40: the kernel's limit (ELOOP)
            if target.hasPrefix("/") { current = "/" }
            pending += target.split(separator: "/").reversed()
        }
        return (directories, current)
    }

    /// `realpath(3)`, or the path itself when it does not resolve.
    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Collects problems, each path once.
    struct Inspector {
        enum Role {
            case above(watched: String)
            case inside
        }

        let trustedOwners: Set<uid_t>
        var problems: [Problem] = []
        /// Paths checked inside a tree, and above a root: a path can be both (nested roots),
        /// and inside, the sticky bit does not excuse it.
        var inspectedInside = Set<String>()
        var inspectedAbove = Set<String>()
        var visitedDirectories = Set<String>()

        /// Checks one path (following links) in its role.
        mutating func inspect(_ path: String, role: Role) {
            var info = stat()
            guard stat(path, &info) == 0 else { return }
            let owner = Self.userName(info.st_uid)
            if !trustedOwners.contains(info.st_uid), !problems.contains(where: { $0.path == path && $0.kind == .owner }) {
                problems.append(Problem(path: path, kind: .owner, owner: owner, mode: info.st_mode))
            }
            let writable = info.st_mode & (S_IWGRP | S_IWOTH) != 0
            switch role {
            case .inside:
                if inspectedInside.insert(path).inserted, writable {
                    problems.append(Problem(path: path, kind: .writable, owner: owner, mode: info.st_mode))
                }
            case .above(let watched):
                if inspectedAbove.insert(path).inserted, writable, info.st_mode & S_ISVTX == 0 {
                    problems.append(Problem(path: path, kind: .writableAbove(watched: watched), owner: owner, mode: info.st_mode))
                }
            }
        }

        /// Checks `directory` and what `ManifestLoader` reads below it: directories (through
        /// links that stay inside `boundary`) and manifest files.
        mutating func inspectTree(_ directory: String, boundary: String) {
            inspect(directory, role: .inside)
            guard visitedDirectories.insert(ManifestDirectoryTrust.realPath(directory)).inserted,
                let names = try? FileManager.default.contentsOfDirectory(atPath: directory)
            else { return }
            for name in names.sorted() where !name.hasPrefix(".") {
                let full = "\(directory)/\(name)"
                var info = stat()
                guard lstat(full, &info) == 0 else { continue }
                if info.st_mode & S_IFMT == S_IFLNK {
                    let target = ManifestDirectoryTrust.realPath(full)
                    guard stat(full, &info) == 0, target == boundary || target.hasPrefix(boundary == "/" ? "/" : boundary + "/") else { continue }
                }
                if info.st_mode & S_IFMT == S_IFDIR {
                    inspectTree(full, boundary: boundary)
                } else if ManifestLoader.isManifestName(name) {
                    inspect(full, role: .inside)
                }
            }
        }

        /// The user name of `uid` from the password database, or the number.
        static func userName(_ uid: uid_t) -> String {
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            var buffer = [CChar](repeating: 0, count: 4096)
            let name = buffer.withUnsafeMutableBufferPointer { storage -> String? in
                guard let base = storage.baseAddress, getpwuid_r(uid, &entry, base, storage.count, &result) == 0, result != nil,
                    let name = entry.pw_name
                else {
                    return nil
                }
                return String(cString: name)
            }
            return name ?? "uid \(uid)"
        }
    }
}
