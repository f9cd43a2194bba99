import Foundation
import KukeEngine
import KukeModel
import Synchronization

/// Where commands write and what they read from their environment; a task-local value
/// so tests can run the CLI in-process and capture its output.
public struct Console: Sendable {
    public var writeOut: @Sendable (String) -> Void
    public var writeError: @Sendable (String) -> Void
    public var environment: [String: String]
    /// Whether stdout and stderr are terminals (colour, progress).
    public var stdoutIsTerminal: Bool
    public var stderrIsTerminal: Bool
    public var readStandardInput: @Sendable () -> Data

    public init(
        writeOut: @escaping @Sendable (String) -> Void, writeError: @escaping @Sendable (String) -> Void,
        environment: [String: String], stdoutIsTerminal: Bool, stderrIsTerminal: Bool,
        readStandardInput: @escaping @Sendable () -> Data
    ) {
        self.writeOut = writeOut
        self.writeError = writeError
        self.environment = environment
        self.stdoutIsTerminal = stdoutIsTerminal
        self.stderrIsTerminal = stderrIsTerminal
        self.readStandardInput = readStandardInput
    }

    /// The process's own streams and environment.
    public static let process = Console(
        writeOut: { FileHandle.standardOutput.write(Data($0.utf8)) },
        writeError: { FileHandle.standardError.write(Data($0.utf8)) },
        environment: ProcessInfo.processInfo.environment,
        stdoutIsTerminal: isatty(1) == 1, stderrIsTerminal: isatty(2) == 1,
        readStandardInput: { Console.readBounded(FileHandle.standardInput) })

    @TaskLocal public static var current = Console.process

    /// Reads until end of file or one byte past the manifest size limit, so `cat /dev/zero | kuke apply -f -`
    /// is refused instead of filling memory.
    static func readBounded(_ handle: FileHandle) -> Data {
        var data = Data()
        while data.count <= ManifestLoader.maximumFileSize {
            guard let chunk = try? handle.read(upToCount: 65536), !chunk.isEmpty else { break }
            data.append(chunk)
        }
        return data
    }

    /// One line on stdout, its control characters escaped (`VisibleText`): user text in it (a
    /// suspend reason, a label value, a name in a message) cannot forge a line or a terminal escape.
    public func out(_ line: String) { writeOut(VisibleText.escaped(line) + "\n") }
    /// One line on stderr, escaped as `out` escapes.
    public func error(_ line: String) { writeError(VisibleText.escaped(line) + "\n") }

    /// One line on stdout made of segments, each escaped as `out` escapes and, when colour is
    /// enabled, painted with its SGR code (`32` is green): kuke's own colour survives, escapes
    /// inside user text do not.
    public func out(_ segments: [(text: String, color: String?)]) {
        let line = segments.map { segment in
            let text = VisibleText.escaped(segment.text)
            guard let color = segment.color, colorEnabled else { return text }
            return "\u{1B}[\(color)m\(text)\u{1B}[0m"
        }
        writeOut(line.joined() + "\n")
    }

    /// Colour only on a terminal and never with `NO_COLOR` set.
    public var colorEnabled: Bool { stdoutIsTerminal && environment["NO_COLOR"] == nil }

    /// A console that records what is written, for tests.
    public static func capturing(environment: [String: String] = [:], stdin: Data = Data()) -> (Console, Captured) {
        let captured = Captured()
        let console = Console(
            writeOut: { text in captured.storage.withLock { $0.out += text } },
            writeError: { text in captured.storage.withLock { $0.error += text } },
            environment: environment, stdoutIsTerminal: false, stderrIsTerminal: false, readStandardInput: { stdin })
        return (console, captured)
    }

    /// What a capturing console received.
    public final class Captured: Sendable {
        let storage = Mutex((out: "", error: ""))
        public var out: String { storage.withLock { $0.out } }
        public var error: String { storage.withLock { $0.error } }
    }
}
