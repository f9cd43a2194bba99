/// A unified diff of two texts (conflists, records, the isolation table's rules), as `diff -u`
/// prints it. The edit script is Myers' (the standard library's `difference(from:)`): time
/// grows with the size of the texts times the size of the difference, so the diff of a large
/// table with a few changed rules stays cheap.
public enum UnifiedDiff {
    enum Line: Equatable {
        case same(String)
        case removed(String)
        case added(String)

        var isSame: Bool { if case .same = self { true } else { false } }
        var inOld: Bool { if case .added = self { false } else { true } }
        var inNew: Bool { if case .removed = self { false } else { true } }
    }

    /// The diff of `old` (nil: absent) and `new` (nil: removed), or nil when they are equal.
    public static func make(old: String?, new: String?, oldLabel: String, newLabel: String, context: Int = 3) -> String? {
        if old == new { return nil }
        return make(oldLines: old.map(lines), newLines: new.map(lines), oldLabel: oldLabel, newLabel: newLabel, context: context)
    }

    /// The diff of two lists of lines (nil: absent), or nil when they are equal.
    public static func make(oldLines: [String]?, newLines: [String]?, oldLabel: String, newLabel: String, context: Int = 3) -> String? {
        if oldLines == newLines { return nil }
        let edits = script(oldLines ?? [], newLines ?? [])
        var out = "--- \(oldLines == nil ? "/dev/null" : oldLabel)\n+++ \(newLines == nil ? "/dev/null" : newLabel)\n"
        var index = 0
        while index < edits.count {
            guard let firstChange = edits[index...].firstIndex(where: { !$0.isSame }) else { break }
            let start = max(index, firstChange - context)
            var end = firstChange
            var lastChange = firstChange
            while end < edits.count {
                if !edits[end].isSame {
                    lastChange = end
                } else if end - lastChange > context * 2 {
                    break
                }
                end += 1
            }
            end = min(edits.count, lastChange + context + 1)
            let hunk = edits[start..<end]
            let oldStart = edits[..<start].filter(\.inOld).count
            let newStart = edits[..<start].filter(\.inNew).count
            let oldCount = hunk.filter(\.inOld).count
            let newCount = hunk.filter(\.inNew).count
            out += "@@ -\(range(oldStart, oldCount)) +\(range(newStart, newCount)) @@\n"
            for line in hunk {
                switch line {
                case .same(let text): out += " \(text)\n"
                case .removed(let text): out += "-\(text)\n"
                case .added(let text): out += "+\(text)\n"
                }
            }
            index = end
        }
        return out
    }

    static func range(_ start: Int, _ count: Int) -> String {
        count == 0 ? "\(start),0" : count == 1 ? "\(start + 1)" : "\(start + 1),\(count)"
    }

    static func lines(_ text: String?) -> [String] {
        guard let text, !text.isEmpty else { return [] }
        var result = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if result.last == "" { result.removeLast() }
        return result
    }

    /// The edit script: every line of `a` and `b` in order, each kept, removed or added. The
    /// lines both share at the start and the end are kept as they are; only what lies between
    /// goes through `difference(from:)` (a new file, all added, costs no search at all).
    static func script(_ a: [String], _ b: [String]) -> [Line] {
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        let old = Array(a[prefix..<(a.count - suffix)])
        let new = Array(b[prefix..<(b.count - suffix)])
        var edits = a[..<prefix].map(Line.same)
        if old.isEmpty || new.isEmpty {
            edits += old.map(Line.removed) + new.map(Line.added)
        } else {
            var removed = Set<Int>()
            var inserted = Set<Int>()
            for change in new.difference(from: old) {
                switch change {
                case .remove(let offset, _, _): removed.insert(offset)
                case .insert(let offset, _, _): inserted.insert(offset)
                }
            }
            var i = 0
            var j = 0
            while i < old.count || j < new.count {
                if i < old.count, removed.contains(i) {
                    edits.append(.removed(old[i]))
                    i += 1
                } else if j < new.count, inserted.contains(j) {
                    edits.append(.added(new[j]))
                    j += 1
                } else {
                    edits.append(.same(old[i]))
                    i += 1
                    j += 1
                }
            }
        }
        return edits + a[(a.count - suffix)...].map(Line.same)
    }
}
