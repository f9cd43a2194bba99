import Foundation
import KukeModel
import Logging
import Synchronization

/// One line per log record on stderr: `level message key=value …` for journald and
/// terminals, or one JSON object per line (`--log-format json`). Control characters in the
/// message and values (a suspend reason, a name, a kernel's or a file's text) are escaped
/// (`VisibleText` in text, JSON's escapes in JSON): a newline or an ANSI escape cannot forge
/// a record.
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
            write(prefix + ([event.level.rawValue, VisibleText.escaped(event.message.description)] + fields).joined(separator: " ") + "\n")
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

    /// A value as is, or in double quotes when it has spaces or quotes; control characters escaped.
    static func quoted(_ value: String) -> String {
        value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? json(value) : VisibleText.escaped(value)
    }

    /// A JSON string. JSON escapes the C0 controls; DEL, the C1 controls and U+2028/U+2029,
    /// which it may leave as they are, are written as `\u` escapes too.
    static func json(_ text: String) -> String {
        let encoded = JSONValue.string(text).compactText
        guard encoded.unicodeScalars.contains(where: VisibleText.isControl) else { return encoded }
        var out = ""
        for scalar in encoded.unicodeScalars {
            guard VisibleText.isControl(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
        return out
    }
}
