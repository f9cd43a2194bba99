/// Where something was written: a file (or `<stdin>`), a 1-based line and a 1-based column.
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COLUMN`, the form compilers and editors jump to.
    public var description: String { "\(file):\(line):\(column)" }
}
