import Foundation
import KukeModel
import Logging
import Synchronization
import Testing

@testable import KukeWatch

@Suite("Watch: log lines")
struct LineLogHandlerTests {
    func lines(_ format: LineLogHandler.Format, message: String, value: String) -> [String] {
        let written = Mutex<[String]>([])
        let logger = Logger(label: "test") { _ in
            LineLogHandler(format: format, level: .info, write: { line in written.withLock { $0.append(line) } })
        }
        logger.notice("\(message)", metadata: ["reason": "\(value)", "space": "main/blog"])
        return written.withLock { $0 }
    }

    @Test(
        "a newline or an ANSI escape in a message or a value cannot forge a log line",
        arguments: [
            ("suspended\nerror forged line", "disk\ninfo forged=1"),
            ("\u{1B}[2J\u{1B}[Hcleared", "a\r\u{1B}[1Aup"),
            ("c1 \u{9B}31m", "del \u{7F} ls \u{2028}"),
        ])
    func text(_ message: String, _ value: String) throws {
        for format in LineLogHandler.Format.allCases {
            let written = lines(format, message: message, value: value)
            #expect(written.count == 1)
            let line = try #require(written.first)
            #expect(line.hasSuffix("\n") && line.dropLast().allSatisfy { $0 != "\n" && $0 != "\r" && $0 != "\u{1B}" }, "\(line.debugDescription)")
            #expect(!line.unicodeScalars.contains("\u{9B}") && !line.unicodeScalars.contains("\u{2028}"), "\(line.debugDescription)")
            if format == .text {
                #expect(line.hasPrefix("notice \(VisibleText.escaped(message)) "), "\(line.debugDescription)")
                #expect(line.contains("space=main/blog"))
            }
        }
    }

    @Test("plain values stay bare; values with spaces are quoted once, their controls escaped")
    func quoting() {
        #expect(LineLogHandler.quoted("main/blog") == "main/blog")
        #expect(LineLogHandler.quoted("a\nb") == #"a\nb"#)
        #expect(LineLogHandler.quoted("disk maintenance") == #""disk maintenance""#)
        #expect(LineLogHandler.quoted("two words\nand \u{1B}[31m") == #""two words\nand \u001b[31m""#)
    }
}
