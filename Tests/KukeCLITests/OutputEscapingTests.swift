import Foundation
import KukeEngine
import KukeModel
import Testing

@testable import KukeCLI

/// User text that tries to forge output: a newline that starts a fake outcome line, a carriage
/// return that overwrites the line, ANSI escapes that clear the screen or repaint, a one-byte CSI.
let forgingTexts = [
    "disk\nSpace \"main/blog\": deleted",
    "ok\r\u{1B}[2K\u{1B}[32mall good",
    "\u{1B}[2J\u{1B}[H",
    "tab\there \u{7F} \u{9B}31m \u{2028}next",
]

@Suite("Human output: control characters in user text are escaped")
struct OutputEscapingTests {
    /// A console like the process's on a terminal (colour on), capturing what is written.
    func terminal() -> (Console, Console.Captured) {
        let (capturing, captured) = Console.capturing()
        var console = capturing
        console.stdoutIsTerminal = true
        return (console, captured)
    }

    @Test("a suspend reason (an outcome's note) stays on its line; kuke's own colour is kept", arguments: forgingTexts)
    func outcomeNote(_ reason: String) {
        let (console, captured) = terminal()
        var outcome = ResourceOutcome(kind: .space, realm: "main", name: "blog", outcome: .suspended)
        outcome.note = reason
        OutcomePrinter(console: console, format: nil).print([outcome])
        let lines = captured.out.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "one line: \(captured.out.debugDescription)")
        #expect(captured.out.hasPrefix("Space \"main/blog\": \u{1B}[36msuspended\u{1B}[0m: "), "\(captured.out.debugDescription)")
        #expect(captured.out.hasSuffix(": \(VisibleText.escaped(reason))\n"))
        #expect(captured.out.filter { $0 == "\u{1B}" }.count == 2, "only kuke's own two escapes")
        #expect(!captured.out.contains("\r") && !captured.out.unicodeScalars.contains("\u{9B}"))
    }

    @Test("the escapes: \\n \\r \\t by name, other controls as \\u{…}; text without them is returned as is")
    func escapes() {
        #expect(VisibleText.escaped("a\nb\rc\td") == #"a\nb\rc\td"#)
        #expect(VisibleText.escaped("\u{1B}[31m\u{0}\u{7F}\u{85}\u{9B}\u{2028}\u{2029}") == #"\u{1B}[31m\u{0}\u{7F}\u{85}\u{9B}\u{2028}\u{2029}"#)
        #expect(VisibleText.escaped("plain é ü 日本 \\n") == "plain é ü 日本 \\n")
        #expect(VisibleText.escaped(VisibleText.escaped("a\nb")) == VisibleText.escaped("a\nb"), "escaping twice changes nothing")
    }

    @Test("console lines, table cells and failure messages: one line each", arguments: forgingTexts)
    func lines(_ text: String) {
        let (console, captured) = Console.capturing()
        console.out("reason: \(text)")
        console.error("error: \(text)")
        console.writeOut(table([["LABEL", "VALUE"], ["team", text]]))
        var failed = ResourceOutcome(kind: .space, realm: "main", name: "blog", outcome: .failed)
        failed.failure = Failure(.controllerUnavailable, text)
        OutcomePrinter(console: console, format: nil).print([failed])
        #expect(captured.out.split(separator: "\n").count == 4, "\(captured.out.debugDescription)")
        #expect(captured.error.split(separator: "\n").count == 1, "\(captured.error.debugDescription)")
        let shown = (captured.out + captured.error).replacingOccurrences(of: "\n", with: "")
        #expect(VisibleText.escaped(shown) == shown, "no control character but the line ends: \(captured.out.debugDescription)")
    }

    @Test("-o json and -o yaml keep the text exactly, escaped as their formats escape")
    func structured() throws {
        let reason = forgingTexts[0]
        var outcome = ResourceOutcome(kind: .space, realm: "main", name: "blog", outcome: .suspended)
        outcome.note = reason
        let (console, captured) = Console.capturing()
        OutcomePrinter(console: console, format: .json).print([outcome])
        #expect(try JSONParser.parse(captured.out).arrayValue?.first?["note"]?.stringValue == reason)
        #expect(!captured.out.contains("disk\n"))
    }

    @Test("an unknown command with a newline in it is named on one line")
    func unknownCommand() async {
        let (console, captured) = Console.capturing()
        let status = await Kuke.run(arguments: ["aply\nSpace \"x\": created"], console: console)
        #expect(status == 2)
        #expect(captured.error.hasPrefix(#"Error: unknown command "aply\nSpace "x": created" for "kuke""#), "\(captured.error)")
        #expect(captured.error.split(separator: "\n").count == 2, "the message and its hint")
    }
}
