/// The fuzzer's bytes read as a sequence of choices: libFuzzer mutates the bytes, so it
/// mutates the choices, and coverage guides it through the schema. Past the last byte every
/// choice is the first option, so a short input is a small manifest.
struct Choices {
    var bytes: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    mutating func byte() -> UInt8 { bytes.popFirst() ?? 0 }

    /// A number in `0..<count`.
    mutating func below(_ count: Int) -> Int { count <= 1 ? 0 : Int(byte()) % count }

    mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }

    /// True about `percent` times in a hundred.
    mutating func chance(_ percent: Int) -> Bool { Int(byte()) * 100 < percent * 256 }

    /// `count` decimal digits.
    mutating func digits(_ count: Int) -> String {
        String((0..<count).map { _ in Character(String(byte() % 10)) })
    }
}
