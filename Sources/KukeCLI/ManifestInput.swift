import ArgumentParser
import KukeEngine
import KukeModel

/// `-f PATH…` shared by apply, diff and delete: loads and validates the whole batch,
/// and stops with every issue printed (exit 2) before anything changes.
struct ManifestInput: ParsableArguments {
    @Option(
        name: [.customShort("f"), .customLong("filename")],
        help: ArgumentHelp("A manifest file, a directory (*.yaml/*.yml, recursive, sorted) or - for stdin; repeatable.", valueName: "path"))
    var paths: [String] = []

    func validate() throws {
        if paths.isEmpty { throw ValidationError("-f PATH is required (a file, a directory or - for stdin)") }
    }

    /// The batch; `refusingTransients` (under `--prune`) makes a file being replaced (empty, a
    /// dangling link, a directory named like a manifest) an error, as in `kuke watch --prune`.
    func load(_ console: Console, refusingTransients: Bool = false) throws -> [Resource] {
        let loader = ManifestLoader.local(readStandardInput: console.readStandardInput, refusingTransients: refusingTransients)
        let (resources, issues) = loader.load(paths)
        if !issues.isEmpty {
            for issue in issues { console.error(issue.description) }
            console.error("error: \(issues.count) problem\(issues.count == 1 ? "" : "s") found; nothing was changed")
            throw ExitCode(ExitStatus.invalid)
        }
        if resources.isEmpty {
            console.error("error: no Realm or Space manifests found in \(paths.joined(separator: ", ")); nothing was changed")
            throw ExitCode(ExitStatus.invalid)
        }
        return resources
    }
}

/// Runs an engine call, turning a host-wide failure (lock, netlink dump) into `status` (exit 1 by default).
func withEngine<T>(_ console: Console, status: Int32 = ExitStatus.failed, _ body: () throws(HostError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        console.error("error: \(CommandHints().text(error.message, hint: error.hint))")
        throw ExitCode(status)
    }
}
