import KukeModel

/// Temporary files an interrupted atomic write left (`.<name>.kuke-tmp` beside a file kuke
/// writes): found by path, removed by the next pass, shown by `diff` like any other change.
enum LeftoverPlanner {
    static func plan(_ paths: [String], part: Part, files: any FileStore) -> [Change] {
        paths.map(HostLayout.temporaryPath(of:)).filter(files.exists).map { temporary in
            Change(
                part: part, action: .delete, subject: temporary, summary: "remove \(temporary) (left by an interrupted write)",
                operation: .removeFile(path: temporary))
        }
    }
}
