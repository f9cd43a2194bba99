/// User text (a suspend reason, a label value, a name inside a message) as it is shown on one
/// line of human output or of a log: control characters are written as Swift escapes, so a
/// newline cannot forge a line and an ANSI escape cannot repaint or erase the terminal.
/// `\n`, `\r` and `\t` keep their short forms; other C0 controls, DEL, the C1 controls (0x9B is
/// a one-byte CSI) and the Unicode line and paragraph separators become `\u{1B}`.
public enum VisibleText {
    /// `text` with every control character escaped; `text` itself when it has none.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(scalar): out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Whether `escaped` writes `scalar` as an escape: C0, DEL, C1, U+2028 and U+2029.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: true
        default: false
        }
    }
}
