import ArgumentParser
import Foundation
import KukeModel

/// The `kuke` command: the root of every subcommand.
public struct Kuke: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "kuke",
        abstract: "Reconcile Kukeon realms and spaces: CNI conflist, Linux bridge, cgroup and metadata.",
        discussion: """
            Examples:
              kuke apply -f examples/        create or update what the manifests declare
              kuke diff -f examples/         show what apply would change
              kuke get spaces                list spaces with their bridge and subnet
              kuke delete -f examples/       delete what the manifests declare

            Shell completions: kuke --generate-completion-script bash|zsh|fish
            """,
        version: BuildInfo.version,
        subcommands: [
            ApplyCommand.self, DiffCommand.self, GetCommand.self, CreateCommand.self, DeleteCommand.self, InitCommand.self, WatchCommand.self,
            TopCommand.self, DescribeCommand.self, DoctorCommand.self, VersionCommand.self, SuspendCommand.self, ResumeCommand.self,
        ])

    public init() {}

    /// Why the words of `arguments` do not name a command, with the one probably meant
    /// (`kuke aply`, `kuke get spce`, `kuke help nope`); nil when they do. Checked before
    /// parsing, so a typo is not blamed on the option that follows it.
    static func unknownCommand(in arguments: [String]) -> String? {
        var command: any ParsableCommand.Type = Kuke.self
        var path = ["kuke"]
        var words = arguments[...]
        if words.first == "help" { words = words.dropFirst() }
        while let word = words.first, !word.hasPrefix("-") {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty else { return nil }
            if let match = subcommands.first(where: { $0.configuration.commandName == word || $0.configuration.aliases.contains(word) }) {
                command = match
                path.append(word)
                words = words.dropFirst()
                continue
            }
            var names: [String] = []
            for subcommand in subcommands {
                if let name = subcommand.configuration.commandName { names.append(name) }
                names += subcommand.configuration.aliases
            }
            let meant = names.map { ($0, editDistance(word.lowercased(), $0)) }.filter { $0.1 <= (word.count <= 4 ? 1 : 2) }.min {
                ($0.1, $0.0) < ($1.1, $1.0)
            }
            let suggestion = meant.map { " (did you mean \"\(path.dropFirst().map { $0 + " " }.joined())\($0.0)\"?)" } ?? ""
            return
                "Error: unknown command \"\(VisibleText.escaped(word))\" for \"\(path.joined(separator: " "))\"\(suggestion)\nSee '\(path.joined(separator: " ")) --help' for its commands."
        }
        return nil
    }

    /// Runs kuke with `arguments` (without the program name) and returns its exit status:
    /// 0 success, 1 some resource failed, 2 invalid input or usage.
    public static func run(arguments: [String], console: Console = .process) async -> Int32 {
        await Console.$current.withValue(console) {
            if let problem = unknownCommand(in: arguments) {
                for line in problem.split(separator: "\n") { console.error(String(line)) }
                return ExitStatus.invalid
            }
            do {
                var command = try parseAsRoot(arguments)
                if var asyncCommand = command as? AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
                return ExitStatus.success
            } catch let exit as ExitCode {
                return exit.rawValue
            } catch let error as HostConfigError {
                for line in error.lines { console.error(line) }
                return ExitStatus.invalid
            } catch {
                let code = exitCode(for: error)
                let message = fullMessage(for: error)
                if code == .success {
                    // Help and usage are ArgumentParser's own lines, written as they are.
                    if !message.isEmpty { console.writeOut(message + "\n") }
                    return ExitStatus.success
                }
                if !message.isEmpty { console.writeError(message + "\n") }
                return code == .validationFailure ? ExitStatus.invalid : (error is ValidationError ? ExitStatus.invalid : ExitStatus.failed)
            }
        }
    }
}
