import KukeModel

/// What a cgroup uses now, read from its interface files (`kuke top`); each value is nil when
/// its controller is not enabled there (the file is missing).
public struct CgroupUsage: Sendable, Equatable {
    /// `usage_usec` of `cpu.stat`: CPU time used since the cgroup was made, in microseconds.
    public var cpuMicroseconds: UInt64?
    /// `memory.current`, in bytes.
    public var memoryBytes: UInt64?
    /// `pids.current`.
    public var pids: UInt64?
    /// `rbytes` and `wbytes` of `io.stat`, summed over devices.
    public var ioReadBytes: UInt64?
    public var ioWrittenBytes: UInt64?
    /// The limits as the kernel holds them: `cpu.max` as CPUs (`1.5`), `memory.max` and `pids.max`; `max` when unlimited.
    public var cpuLimit: String?
    public var memoryLimit: String?
    public var pidsLimit: String?

    public init() {}

    /// Reads the files of the cgroup at `path` through `read` (a file's text, nil when missing).
    public init(read: (String) -> String?) {
        cpuMicroseconds = read("cpu.stat").flatMap { Self.field("usage_usec", in: $0) }
        memoryBytes = read("memory.current").flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        pids = read("pids.current").flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        if let stat = read("io.stat") {
            var (readBytes, written): (UInt64, UInt64) = (0, 0)
            for line in stat.split(separator: "\n") {
                readBytes = Self.saturatingSum(readBytes, Self.keyed("rbytes", in: String(line)) ?? 0)
                written = Self.saturatingSum(written, Self.keyed("wbytes", in: String(line)) ?? 0)
            }
            (ioReadBytes, ioWrittenBytes) = (readBytes, written)
        }
        cpuLimit = read("cpu.max").map(Self.cpus(ofMax:))
        memoryLimit = read("memory.max").map { Self.bytes($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        pidsLimit = read("pids.max").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The number of a `name value` line (`usage_usec 1234` in `cpu.stat`).
    static func field(_ name: String, in text: String) -> UInt64? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == name { return UInt64(parts[1]) }
        }
        return nil
    }

    /// The number of a `name=value` word (`rbytes=1234` in a line of `io.stat`).
    static func keyed(_ name: String, in line: String) -> UInt64? {
        line.split(separator: " ").first { $0.hasPrefix(name + "=") }.flatMap { UInt64($0.dropFirst(name.count + 1)) }
    }

    /// `150000 100000` → `1.5`; `max 100000` → `max`.
    static func cpus(ofMax text: String) -> String {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]), period > 0 else { return "max" }
        return Self.trimmed(quota / period)
    }

    /// A byte count as `512Mi`, `1.5Gi`, `42Ki`, `900` (binary units, at most one decimal), or `max`.
    public static func bytes(_ text: String) -> String {
        guard let value = UInt64(text) else { return text }
        return bytes(value)
    }

    public static func bytes(_ value: UInt64) -> String {
        let units: [(String, Double)] = [("Ti", 1_099_511_627_776), ("Gi", 1_073_741_824), ("Mi", 1_048_576), ("Ki", 1024)]
        for (unit, size) in units where Double(value) >= size { return trimmed(Double(value) / size) + unit }
        return String(value)
    }

    /// `1.50` → `1.5`, `2.00` → `2`: one decimal at most. A number past what 64 bits hold
    /// (a cgroup file with an absurd value) is shown as a Double, never converted with a trap.
    static func trimmed(_ number: Double) -> String {
        let tenths = (number * 10).rounded()
        guard let whole = Int64(exactly: tenths / 10) else { return String(tenths / 10) }
        return String(whole)
    }

    /// `a + b`, or `UInt64.max` when the sum is past it: counters summed over devices never trap.
    static func saturatingSum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? UInt64.max : sum
    }

    /// CPU use between two readings as a percentage of one CPU (`37.5%`), or nil.
    public static func cpuPercent(from first: CgroupUsage, to second: CgroupUsage, seconds: Double) -> String? {
        guard let start = first.cpuMicroseconds, let end = second.cpuMicroseconds, end >= start, seconds > 0 else { return nil }
        return trimmed(Double(end - start) / (seconds * 1_000_000) * 100) + "%"
    }
}
