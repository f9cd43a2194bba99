import Foundation
import KukeEngine
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

    public func out(_ line: String) { writeOut(line + "\n") }
    public func error(_ line: String) { writeError(line + "\n") }

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
