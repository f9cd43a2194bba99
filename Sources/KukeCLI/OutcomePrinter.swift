import ArgumentParser
import KukeEngine
import KukeModel

/// Prints pass outcomes: one line per resource for humans (changes under updates),
/// or one object per resource as JSON or YAML.
struct OutcomePrinter {
    var console: Console
    var format: OutputFormat?
    var dryRun: Bool = false

    func print(_ outcomes: [ResourceOutcome]) {
        switch format {
        case .json: console.writeOut(JSONValue.array(outcomes.map { JSONValue(value($0)) }).canonicalText)
        case .yaml: console.writeOut(RecordCodec.yaml(.list(outcomes.map(value))))
        case nil: outcomes.forEach(printHuman)
        }
    }

    func printHuman(_ outcome: ResourceOutcome) {
        let word = outcome.outcome.rawValue + (dryRun && outcome.outcome.changesHost ? " (dry run)" : "")
        var rest = ""
        if let failure = outcome.failure { rest += ": \(failure.reason): \(CommandHints().text(failure))" }
        if let note = outcome.note { rest += ": \(note)" }
        console.out([("\(outcome.kind) \"\(outcome.displayName)\": ", nil), (word, color(of: outcome.outcome)), (rest, nil)])
        for warning in outcome.warnings { console.error("warning: \(warning)") }
        guard outcome.outcome == .updated || (dryRun && outcome.outcome.changesHost) else { return }
        for change in outcome.changes {
            console.out("  \(symbol(change.action)) \(change.summary)")
        }
    }

    func symbol(_ action: Change.Action) -> String {
        switch action {
        case .create: "+"
        case .update: "~"
        case .delete: "-"
        }
    }

    /// The SGR code an outcome's word is painted with on a terminal.
    func color(of outcome: Outcome) -> String {
        switch outcome {
        case .created: "32"
        case .updated: "33"
        case .deleted: "35"
        case .unchanged, .skipped: "2"
        case .suspended: "36"
        case .failed: "31;1"
        }
    }

    func value(_ outcome: ResourceOutcome) -> ManifestValue {
        var entries: [ManifestValue.Entry] = [.init("kind", .string(outcome.kind.rawValue))]
        if let realm = outcome.realm { entries.append(.init("realm", .string(realm))) }
        entries.append(.init("name", .string(outcome.name)))
        entries.append(.init("outcome", .string(outcome.outcome.rawValue)))
        if dryRun { entries.append(.init("dryRun", .boolean(true))) }
        entries.append(
            .init(
                "changes",
                .list(
                    outcome.changes.map { change in
                        .map([
                            .init("part", .string(change.part.name)), .init("action", .string(change.action.rawValue)),
                            .init("subject", .string(change.subject)), .init("summary", .string(change.summary)),
                        ])
                    })))
        if let note = outcome.note { entries.append(.init("note", .string(note))) }
        if !outcome.warnings.isEmpty { entries.append(.init("warnings", .list(outcome.warnings.map { .string($0) }))) }
        if let failure = outcome.failure {
            entries.append(
                .init("error", .map([.init("reason", .string(failure.reason.rawValue)), .init("message", .string(CommandHints().text(failure)))])))
        }
        return .map(entries)
    }

    /// The exit status for a pass: 1 when any resource failed.
    static func status(of outcomes: [ResourceOutcome]) -> Int32 {
        outcomes.contains { $0.outcome == .failed } ? ExitStatus.failed : ExitStatus.success
    }

    /// Prints the outcomes and the closing line, and returns the exit for the command to throw.
    func report(_ outcomes: [ResourceOutcome]) -> ExitCode {
        print(outcomes)
        summarize(outcomes)
        return ExitCode(Self.status(of: outcomes))
    }

    /// A closing line on stderr when some resources failed.
    func summarize(_ outcomes: [ResourceOutcome]) {
        let failed = outcomes.filter { $0.outcome == .failed }.count
        if failed > 0 { console.error("error: \(failed) of \(outcomes.count) resources failed") }
    }
}
