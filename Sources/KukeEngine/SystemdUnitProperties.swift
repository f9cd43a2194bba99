import KukeModel

/// One property of a systemd unit as its D-Bus API takes it (`MemoryMax` = `t 50331648`).
public struct UnitProperty: Sendable, Equatable, CustomStringConvertible {
    public enum Value: Sendable, Equatable {
        /// D-Bus `t`; `UInt64.max` is systemd's `infinity`.
        case uint64(UInt64)
        /// D-Bus `s`.
        case string(String)
        /// D-Bus `a(st)`: a device node and a value, for the per-device IO limits.
        case devices([DeviceValue])
    }

    public struct DeviceValue: Sendable, Equatable {
        /// A block device node, `/dev/block/8:0` (systemd resolves it to the device number).
        public var path: String
        public var value: UInt64

        public init(path: String, value: UInt64) {
            self.path = path
            self.value = value
        }
    }

    public var name: String
    public var value: Value

    public init(_ name: String, _ value: Value) {
        self.name = name
        self.value = value
    }

    /// As `systemctl set-property` would take it: `MemoryMax=50331648`, `TasksMax=infinity`,
    /// `IOReadBandwidthMax=/dev/block/8:0 1048576`.
    public var description: String {
        func text(_ number: UInt64) -> String { number == .max ? "infinity" : String(number) }
        switch value {
        case .uint64(let number): return "\(name)=\(text(number))"
        case .string(let string): return "\(name)=\(string)"
        case .devices(let entries): return entries.map { "\(name)=\($0.path) \(text($0.value))" }.joined(separator: " ")
        }
    }
}

/// Under the systemd cgroup driver, a limit is a property of the slice, never a write into its
/// interface file: systemd re-applies its properties whenever it realizes the slice (at
/// `daemon-reload`, when a unit starts in it), so a file written behind its back would be
/// undone. This maps each interface file kuke writes (`ResourceLimits.Setting`) to the
/// properties that make systemd write the same value; the kernel's file stays what kuke
/// observes and compares.
public enum SystemdUnitProperties {
    /// The properties that make systemd write `line` into `file`; nil for a file systemd does not
    /// manage (`hugetlb.*`), which kuke writes itself. Throws on a line it cannot read.
    ///
    /// - Parameter line: what kuke would write into the file (`ResourceLimits.Setting.line`):
    ///   `50331648`, `max`, `20000 100000`, `default 200`, `8:0 rbps=1048576 wbps=max riops=max wiops=max`.
    public static func properties(file: String, line: String) throws(HostError) -> [UnitProperty]? {
        func number(_ text: Substring) throws(HostError) -> UInt64 {
            if text == "max" { return .max }
            guard let value = UInt64(text) else { throw HostError("\(file): \"\(line)\" has no systemd property value (\"\(text)\")") }
            return value
        }
        let words = line.split(separator: " ")
        func single() throws(HostError) -> UInt64 {
            guard words.count == 1 else { throw HostError("\(file): \"\(line)\" is not one value") }
            return try number(words[0])
        }
        switch file {
        case "memory.max": return [UnitProperty("MemoryMax", .uint64(try single()))]
        case "memory.high": return [UnitProperty("MemoryHigh", .uint64(try single()))]
        case "memory.swap.max": return [UnitProperty("MemorySwapMax", .uint64(try single()))]
        case "memory.low": return [UnitProperty("MemoryLow", .uint64(try single()))]
        case "memory.min": return [UnitProperty("MemoryMin", .uint64(try single()))]
        case "pids.max": return [UnitProperty("TasksMax", .uint64(try single()))]
        case "cpu.weight": return [UnitProperty("CPUWeight", .uint64(try single()))]
        case "io.weight":
            // `default N`, or a bare `N`.
            guard let last = words.last, words.count == 1 || (words.count == 2 && words[0] == "default") else {
                throw HostError("\(file): \"\(line)\" is not \"default WEIGHT\"")
            }
            return [UnitProperty("IOWeight", .uint64(try number(last)))]
        case "cpu.max":
            // `QUOTA PERIOD` in µs; systemd takes the quota per second and the period, and writes
            // QUOTA = perSecond × PERIOD / 1 s back: exact for every period that divides 1 s.
            guard words.count == 2, let period = UInt64(words[1]), period > 0 else {
                throw HostError("\(file): \"\(line)\" is not \"QUOTA PERIOD\"")
            }
            let quota = try number(words[0])
            let (perSecond, overflow) = quota.multipliedReportingOverflow(by: 1_000_000)
            return [
                UnitProperty("CPUQuotaPerSecUSec", .uint64(quota == .max ? .max : overflow ? .max - 1 : perSecond / period)),
                UnitProperty("CPUQuotaPeriodUSec", .uint64(period)),
            ]
        case "io.max":
            guard let device = words.first, Quantity.deviceProblem(String(device)) == nil else {
                throw HostError("\(file): \"\(line)\" does not start with a device MAJ:MIN")
            }
            var limits: [String: UInt64] = ["rbps": .max, "wbps": .max, "riops": .max, "wiops": .max]
            for word in words.dropFirst() {
                let pair = word.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, limits[String(pair[0])] != nil else { throw HostError("\(file): \"\(line)\": \"\(word)\" is not KEY=VALUE") }
                limits[String(pair[0])] = try number(pair[1])
            }
            let node = "/dev/block/\(device)"
            return [("IOReadBandwidthMax", "rbps"), ("IOWriteBandwidthMax", "wbps"), ("IOReadIOPSMax", "riops"), ("IOWriteIOPSMax", "wiops")]
                .map { UnitProperty($0.0, .devices([UnitProperty.DeviceValue(path: node, value: limits[$0.1]!)])) }
        default:
            return nil
        }
    }
}
