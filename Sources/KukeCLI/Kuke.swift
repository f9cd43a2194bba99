import ArgumentParser
import Foundation

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
        version: "0.1.0",
        subcommands: [
            ApplyCommand.self, DiffCommand.self, GetCommand.self, CreateCommand.self, DeleteCommand.self, InitCommand.self, WatchCommand.self,
            TopCommand.self,
        ])

    public init() {}

    /// Runs kuke with `arguments` (without the program name) and returns its exit status:
    /// 0 success, 1 some resource failed, 2 invalid input or usage.
    public static func run(arguments: [String], console: Console = .process) async -> Int32 {
        await Console.$current.withValue(console) {
            do {
                var command = try parseAsRoot(arguments)
                if var asyncCommand = command as? AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
                return ExitStatus.success
            } catch let exit as CommandExit {
                return exit.status
            } catch {
                let code = exitCode(for: error)
                let message = fullMessage(for: error)
                if code == .success {
                    if !message.isEmpty { console.out(message) }
                    return ExitStatus.success
                }
                if !message.isEmpty { console.error(message) }
                return code == .validationFailure ? ExitStatus.invalid : (error is ValidationError ? ExitStatus.invalid : ExitStatus.failed)
            }
        }
    }
}
