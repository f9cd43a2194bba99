import Foundation
import Glibc

/// Which systemd-networkd `.network` file applies to a link, as networkd picks it: every
/// `*.network` of its search directories, a name in an earlier directory hiding the same name
/// in a later one, taken in the order of their file names; the first whose `[Match]` matches
/// wins. Only `Name=` (shell globs, several per line, `!` to negate the list) and `Type=`
/// are evaluated; a file with another match key (MACAddress=, Driver=, Path=, …) is taken not
/// to match a bridge kuke made, and a file with no match key matches every link.
public enum NetworkdFiles {
    public static let searchDirectories = [
        "/etc/systemd/network", "/run/systemd/network", "/usr/local/lib/systemd/network", "/usr/lib/systemd/network", "/lib/systemd/network",
    ]

    /// The `.network` files in effect, by file name: (path, text).
    public static func load(directories: [String] = searchDirectories, list: (String) -> [String], read: (String) -> String?) -> [(String, String)] {
        var byName: [String: (String, String)] = [:]
        for directory in directories {
            for name in list(directory) where name.hasSuffix(".network") && byName[name] == nil {
                let path = "\(directory)/\(name)"
                if let text = read(path) { byName[name] = (path, text) }
            }
        }
        return byName.keys.sorted().compactMap { byName[$0] }
    }

    /// The first file that matches the bridge `link`, and whether it sets `Unmanaged=yes`.
    public static func firstMatch(for link: String, in files: [(String, String)]) -> (file: String, unmanaged: Bool)? {
        for (path, text) in files {
            // An empty file (or a link to /dev/null) masks a file of the same name; it matches nothing.
            if text.allSatisfy(\.isWhitespace) { continue }
            let sections = parse(text)
            let match = sections["Match", default: []]
            var matches = true
            // Repeated Name= lines are merged into one list, as networkd merges them.
            let names = match.filter { $0.0 == "Name" }.map(\.1)
            if !names.isEmpty { matches = nameMatches(link, names.joined(separator: " ")) }
            for (key, value) in match {
                switch key {
                case "Name": break
                case "Type": matches = matches && value.split(separator: " ").contains { fnmatch(String($0), "bridge", 0) == 0 }
                default: matches = false
                }
            }
            guard matches else { continue }
            let unmanaged = sections["Link", default: []].last { $0.0 == "Unmanaged" }.map { ["yes", "true", "1", "on"].contains($0.1.lowercased()) }
            return (path, unmanaged ?? false)
        }
        return nil
    }

    /// `Name=` globs: any matches (or, with a leading `!`, none does).
    static func nameMatches(_ link: String, _ value: String) -> Bool {
        var list = value.trimmingCharacters(in: .whitespaces)
        let negated = list.hasPrefix("!")
        if negated { list.removeFirst() }
        let any = list.split(separator: " ").contains { fnmatch(String($0), link, 0) == 0 }
        return negated ? !any : any
    }

    /// Sections of an INI-style unit file: (key, value) lines in order; comments and blank lines dropped.
    static func parse(_ text: String) -> [String: [(String, String)]] {
        var sections: [String: [(String, String)]] = [:]
        var current = ""
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast())
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current, default: []].append((key, value))
        }
        return sections
    }
}
