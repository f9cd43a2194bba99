import Foundation
import KukeModel
import Logging
import Synchronization

/// One line per log record on stderr: `level message key=value …` for journald and
/// terminals, or one JSON object per line (`--log-format json`).
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text
        case json
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let format: Format
    /// `<N>` syslog priority prefixes, which journald reads (set when stderr is a journal stream).
    let journalPriorities: Bool
    let write: @Sendable (String) -> Void

    public init(
        format: Format, level: Logger.Level, journalPriorities: Bool = false,
        write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.format = format
        self.logLevel = level
        self.journalPriorities = journalPriorities
        self.write = write
    }

    /// The syslog priority journald gives a line starting with `<N>`.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        switch format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quoted("\($0.value)"))" }
            let prefix = journalPriorities ? "<\(Self.priority(event.level))>" : ""
            write(prefix + ([event.level.rawValue, event.message.description] + fields).joined(separator: " ") + "\n")
        case .json:
            var object =
                "{\"time\":\(Self.json(Self.timestamp())),\"level\":\(Self.json(event.level.rawValue)),\"message\":\(Self.json(event.message.description))"
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { object += ",\(Self.json(key)):\(Self.json("\(value)"))" }
            write(object + "}\n")
        }
    }

    static func timestamp() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// A value as is, or in double quotes when it has spaces or quotes.
    static func quoted(_ value: String) -> String {
        value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? json(value) : value
    }

    static func json(_ text: String) -> String { JSONValue.string(text).compactText }
}
