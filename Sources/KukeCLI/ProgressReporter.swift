import Foundation
import KukeEngine
import KukeModel
import Synchronization

/// Progress on stderr for batches that run longer than about a second, on a terminal only:
/// `[12/1000] Space main/blog`, redrawn in place at most ten times a second.
final class ProgressReporter: Sendable {
    struct State {
        var started = Date()
        var lastDraw: Date?
        var drawn = false
    }

    let console: Console
    let state = Mutex(State())
    static let delay: TimeInterval = 1
    static let interval: TimeInterval = 0.1

    init(console: Console) { self.console = console }

    /// A reporter when progress should be shown (stderr is a terminal and output is for humans).
    static func make(console: Console, format: OutputFormat?) -> ProgressReporter? {
        console.stderrIsTerminal && format == nil ? ProgressReporter(console: console) : nil
    }

    var callback: Engine.Progress {
        { [self] done, total, current in self.update(done: done, total: total, current: current) }
    }

    func update(done: Int, total: Int, current: String) {
        let now = Date()
        let line: String? = state.withLock { state in
            if done == total {
                defer { state.drawn = false }
                return state.drawn ? "\r\u{1B}[K" : nil
            }
            guard now.timeIntervalSince(state.started) >= Self.delay else { return nil }
            if let last = state.lastDraw, now.timeIntervalSince(last) < Self.interval { return nil }
            state.lastDraw = now
            state.drawn = true
            return "\r\u{1B}[K[\(done)/\(total)] \(VisibleText.escaped(current))"
        }
        if let line { console.writeError(line) }
    }
}
