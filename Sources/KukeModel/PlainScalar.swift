/// What YAML 1.1 (and so Kubernetes-style tools and Yams' default resolver) reads a plain,
/// unquoted scalar as, decided by hand rather than by regular expressions: the regex
/// resolver was most of the decoding time (measured: 37% of an unchanged `kuke apply`).
enum PlainScalar {
    static let nulls: Set<String> = ["", "~", "null", "Null", "NULL"]
    static let trues: Set<String> = ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]
    static let falses: Set<String> = ["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]
    static let specialFloats: Set<String> = [
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
    ]

    /// The bytes a null, boolean, integer or float can be written with: digits, `+-._:~`, and the
    /// letters of hex digits, `0x`/`0o`/`0b`, exponents, `.inf`/`.nan`, and the null and boolean words.
    static let possible: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in "0123456789+-._:~abcdefilnorstuxyABCDEFILNORSTUY".utf8 { table[Int(byte)] = true }
        return table
    }()

    static func tag(of text: String) -> YAMLTag {
        // Most scalars (names, kinds, paths) start with a character no null, boolean or number can start with.
        guard let first = text.utf8.first else { return .null }
        switch first {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "~"),
            UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "t"), UInt8(ascii: "T"),
            UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "o"), UInt8(ascii: "O"):
            break
        default:
            return .str
        }
        // Every null, boolean and number is spelled with these bytes only: anything else (a `/` in
        // a subnet, the `Z` of a time stamp, the `M` of `512Mi`) is a string, decided in one scan.
        for byte in text.utf8 where !possible[Int(byte)] { return .str }
        if nulls.contains(text) { return .null }
        if trues.contains(text) || falses.contains(text) { return .bool }
        if integer(text) != nil || isSexagesimal(text) { return .int }
        if isFloat(text) { return .float }
        return .str
    }

    static func bool(_ text: String) -> Bool? {
        trues.contains(text) ? true : falses.contains(text) ? false : nil
    }

    /// Decimal, `0x` hex, `0o`/leading-zero octal and `0b` binary, with `_` separators.
    static func integer(_ text: String) -> Int64? {
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        guard let first = digits.first, first.isASCII, first.isNumber else { return nil }
        var radix = 10
        if digits.hasPrefix("0x") {
            radix = 16
            digits = digits.dropFirst(2)
        } else if digits.hasPrefix("0o") {
            radix = 8
            digits = digits.dropFirst(2)
        } else if digits.hasPrefix("0b") {
            radix = 2
            digits = digits.dropFirst(2)
        } else if digits.count > 1 && digits.hasPrefix("0") {
            radix = 8
            digits = digits.dropFirst()
        }
        let cleaned = digits.filter { $0 != "_" }
        guard !cleaned.isEmpty, let magnitude = UInt64(cleaned, radix: radix) else { return nil }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// `1:30` style base-60 numbers, which YAML 1.1 reads as integers.
    static func isSexagesimal(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count > 1, let head = parts.first, !head.isEmpty, head.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }) else {
            return false
        }
        return parts.dropFirst().allSatisfy { $0.count >= 1 && $0.count <= 2 && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }

    /// The forms of Yams' float rule: `1`, `1.5`, `1e3`, `-2.5E-3` (digits first), `.5`, `.5e+3`,
    /// `1:30.5` (base 60), `.inf` with an optional sign, `.nan`.
    static func isFloat(_ text: String) -> Bool {
        if specialFloats.contains(text) { return true }
        let bytes = Array(text.utf8)
        func isDigit(_ index: Int) -> Bool { index < bytes.count && bytes[index] >= 0x30 && bytes[index] <= 0x39 }
        func isDigitOrUnderscore(_ index: Int) -> Bool { isDigit(index) || (index < bytes.count && bytes[index] == 0x5F) }
        func isSign(_ index: Int) -> Bool { index < bytes.count && (bytes[index] == 0x2B || bytes[index] == 0x2D) }
        func isExponent(_ index: Int) -> Bool { index < bytes.count && (bytes[index] == 0x65 || bytes[index] == 0x45) }
        // [-+]?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?
        var index = isSign(0) ? 1 : 0
        if isDigit(index) {
            index += 1
            while isDigitOrUnderscore(index) { index += 1 }
            if index < bytes.count && bytes[index] == 0x2E {
                index += 1
                while isDigitOrUnderscore(index) { index += 1 }
            }
            if isExponent(index) {
                index += 1
                if isSign(index) { index += 1 }
                guard isDigit(index) else { return false }
                while isDigit(index) { index += 1 }
            }
            if index == bytes.count { return true }
        }
        // \.[0-9_]+([eE][-+][0-9]+)?
        if bytes.first == 0x2E, isDigitOrUnderscore(1) {
            index = 1
            while isDigitOrUnderscore(index) { index += 1 }
            if isExponent(index) {
                index += 1
                guard isSign(index) else { return false }
                index += 1
                guard isDigit(index) else { return false }
                while isDigit(index) { index += 1 }
            }
            return index == bytes.count
        }
        // [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
        if let dot = text.firstIndex(of: "."), text[..<dot].contains(":") {
            var head = String(text[..<dot])
            if head.hasPrefix("-") || head.hasPrefix("+") { head.removeFirst() }
            return isSexagesimal(head) && text[text.index(after: dot)...].allSatisfy { $0 == "_" || ($0.isASCII && $0.isNumber) }
        }
        return false
    }
}
