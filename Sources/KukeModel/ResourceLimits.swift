/// `spec.resources` of a Space or a Realm (DESIGN §3a): the limits of the cgroup boundary,
/// as the cgroup v2 interface files that carry them.
///
/// ```yaml
/// resources:
///   cpu:     {max: "1.5", weight: 100}            # cpu.max "150000 100000" ("500m" = 0.5), cpu.weight
///   memory:  {max: 2Gi, high: 1536Mi, swapMax: 0}  # memory.max, memory.high, memory.swap.max
///   pids:    {max: 1024}                           # pids.max
///   io:      {weight: 100, max: [{device: "8:0", rbps: 50Mi, wbps: 50Mi, riops: 1000, wiops: 1000}]}
///   hugetlb: [{pageSize: 2MB, max: 64Mi}]          # hugetlb.2MB.max
/// ```
///
/// Quantities use Kubernetes' notation (`Ki Mi Gi Ti Pi Ei`, `k M G T P E`, plain and decimal
/// numbers) or `max` for no limit.
public struct ResourceLimits: Sendable, Equatable {
    /// One value kuke writes into one interface file. `io.max` holds a line per device, so a
    /// device's line is a setting of its own (`key` = `io.max 8:0`).
    public struct Setting: Sendable, Equatable, Hashable {
        /// The interface file, `memory.max`.
        public var file: String
        /// The device of an `io.max` line (`8:0`), nil for every other file.
        public var device: String?
        /// What kuke writes: `150000 100000`, `2147483648`, `max`, `default 100`, `rbps=… wbps=… riops=… wiops=…`.
        public var value: String

        public init(file: String, device: String? = nil, value: String) {
            self.file = file
            self.device = device
            self.value = value
        }

        /// How `status.resources` names it.
        public var key: String { device.map { "\(file) \($0)" } ?? file }

        /// The controller the file belongs to (`memory` for `memory.swap.max`).
        public var controller: String { String(file.prefix { $0 != "." }) }

        /// The text written to the file (`8:0 rbps=…` for an `io.max` line).
        public var line: String { device.map { "\($0) \(value)" } ?? value }

        /// The setting that returns the file to the kernel's default, for a field removed from
        /// the manifest.
        public var reset: Setting {
            switch file {
            case "cpu.max": Setting(file: file, value: "max 100000")
            case "cpu.weight": Setting(file: file, value: "100")
            case "io.weight": Setting(file: file, value: "default 100")
            case "io.max": Setting(file: file, device: device, value: "rbps=max wbps=max riops=max wiops=max")
            default: Setting(file: file, value: "max")
            }
        }

        /// A setting from its `status.resources` key and value; nil when the key names no file
        /// kuke writes (a hand-edited record: an empty key, `../x`, an `io.max` line without a
        /// valid device), so such a key is never read, reset or written.
        public init?(key: String, value: String) {
            let parts = key.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            let file = String(parts[0])
            let device = parts.count > 1 ? String(parts[1]) : nil
            guard Self.isWritten(file: file, device: device) else { return nil }
            self.init(file: file, device: device, value: value)
        }

        /// Whether kuke writes `file` (with `device`, for `io.max`).
        static func isWritten(file: String, device: String?) -> Bool {
            if file == "io.max" { return device.map { Quantity.deviceProblem($0) == nil } ?? false }
            guard device == nil else { return false }
            if file.hasPrefix("hugetlb."), file.hasSuffix(".max") {
                return Quantity.pageSizeBytes(String(file.dropFirst("hugetlb.".count).dropLast(".max".count))) != nil
            }
            return ["cpu.max", "cpu.weight", "memory.max", "memory.high", "memory.swap.max", "pids.max", "io.weight"].contains(file)
        }
    }

    /// The settings, in a stable order (controller, then file, then device).
    public var settings: [Setting]
    /// Page sizes of `hugetlb` entries (`2MB`), which the kernel must offer.
    public var hugePageSizes: [String]

    /// The controllers the settings need.
    public var controllers: [String] { Array(Set(settings.map(\.controller))).sorted() }

    public static let periodMicroseconds: Int64 = 100_000

    /// The limits of a stored or decoded `spec.resources`; fields that do not parse are left out
    /// (the decoder refuses them with positions before they are stored).
    public init(_ value: ManifestValue?) {
        var settings: [Setting] = []
        var pageSizes: [String] = []
        if let cpu = value?["cpu"] {
            if let max = cpu["max"], case .success(let millis) = Quantity.cpuMillis(max) {
                settings.append(
                    Setting(
                        file: "cpu.max", value: millis.map { "\($0 * Self.periodMicroseconds / 1000) \(Self.periodMicroseconds)" } ?? "max 100000"))
            }
            if case .integer(let weight)? = cpu["weight"] { settings.append(Setting(file: "cpu.weight", value: String(weight))) }
        }
        if let memory = value?["memory"] {
            for (field, file) in [("max", "memory.max"), ("high", "memory.high"), ("swapMax", "memory.swap.max")] {
                if let item = memory[field], case .success(let bytes) = Quantity.bytes(item) {
                    settings.append(Setting(file: file, value: bytes.map(String.init) ?? "max"))
                }
            }
        }
        if let max = value?["pids"]?["max"], case .success(let count) = Quantity.count(max) {
            settings.append(Setting(file: "pids.max", value: count.map(String.init) ?? "max"))
        }
        if let io = value?["io"] {
            if case .integer(let weight)? = io["weight"] { settings.append(Setting(file: "io.weight", value: "default \(weight)")) }
            if case .list(let devices)? = io["max"] {
                for entry in devices {
                    guard let device = entry["device"]?.stringValue, Quantity.deviceProblem(device) == nil else { continue }
                    var parts: [String] = []
                    for (field, parse) in [("rbps", Quantity.bytes), ("wbps", Quantity.bytes), ("riops", Quantity.count), ("wiops", Quantity.count)] {
                        // A field left out, `max`, or (never stored: the decoder refuses it) unparsable: no limit.
                        let limit = entry[field].flatMap { try? parse($0).get() }
                        parts.append("\(field)=\(limit.map(String.init) ?? "max")")
                    }
                    settings.append(Setting(file: "io.max", device: device, value: parts.joined(separator: " ")))
                }
            }
        }
        if case .list(let entries)? = value?["hugetlb"] {
            for entry in entries {
                guard let size = entry["pageSize"]?.stringValue, Quantity.pageSizeBytes(size) != nil, let max = entry["max"],
                    case .success(let bytes) = Quantity.bytes(max)
                else { continue }
                pageSizes.append(size)
                settings.append(Setting(file: "hugetlb.\(size).max", value: bytes.map(String.init) ?? "max"))
            }
        }
        self.settings = settings.sorted { ($0.file, $0.device ?? "") < ($1.file, $1.device ?? "") }
        self.hugePageSizes = pageSizes
    }

    /// A field of `spec.resources` as the manifest writes it (`cpu`, `max` → `500m`), for tables.
    public static func written(_ resources: ManifestValue?, _ group: String, _ field: String) -> String? {
        resources?[group]?[field].flatMap(Quantity.text)
    }

    /// Whether what the kernel shows in a file is the value kuke wrote: equal, or (for byte
    /// limits of memory and hugetlb) the value rounded down to the kernel's page granularity.
    public static func matches(observed: String, setting: Setting) -> Bool {
        if observed == setting.value { return true }
        guard setting.file.hasPrefix("memory.") || setting.file.hasPrefix("hugetlb."), let wanted = UInt64(setting.value),
            let shown = UInt64(observed), shown <= wanted
        else { return false }
        return [4096, 16384, 65536, 2 << 20].contains { wanted - wanted % $0 == shown }
    }

    /// The current value of a setting's file as kuke compares it: the first line (`io.weight`'s
    /// `default N`), the device's line of `io.max` without the device (`max` values when the
    /// kernel lists no line for it), or the whole file trimmed.
    public static func observedValue(of setting: Setting, in text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        switch setting.file {
        case "io.weight":
            return lines.first { $0.hasPrefix("default ") } ?? ""
        case "io.max":
            guard let device = setting.device else { return "" }
            let line = lines.first { $0.hasPrefix(device + " ") }
            return line.map { String($0.dropFirst(device.count + 1)) } ?? "rbps=max wbps=max riops=max wiops=max"
        default:
            return lines.first ?? ""
        }
    }
}

/// Kubernetes-style quantities, as `spec.resources` writes them.
public enum Quantity {
    static let binary: [String: UInt64] = ["Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60]
    static let decimal: [String: UInt64] = [
        "k": 1000, "M": 1_000_000, "G": 1_000_000_000, "T": 1_000_000_000_000, "P": 1_000_000_000_000_000,
        "E": 1_000_000_000_000_000_000,
    ]

    /// The scalar's text: a string as written, an integer as digits.
    static func text(_ value: ManifestValue) -> String? {
        switch value {
        case .string(let text): text
        case .integer(let number): String(number)
        default: nil
        }
    }

    /// The most bytes a limit may hold (`Int64.max`, 8Ei less one byte): what the kernel's
    /// byte limits and `status.resources` carry without overflow.
    public static let maximumBytes = UInt64(Int64.max)
    /// The most a count (pids, IOPS) may be, as the schema's integers.
    public static let maximumCount = UInt64(Int64.max)
    /// The most CPUs `cpu.max` may give: 1000000 (1000000000m).
    public static let maximumCPUMillis: UInt64 = 1_000_000_000
    /// The largest huge page size: 1TB (the kernel's largest today is 16GB).
    public static let maximumPageSize: UInt64 = 1 << 40

    /// A byte count (`2Gi`, `1.5G`, `536870912`), or nil for `max`; the error says what is wrong.
    /// Scaled with checked arithmetic: a value past `maximumBytes` is an error, never a trap.
    public static func bytes(_ value: ManifestValue) -> Result<UInt64?, QuantityError> {
        guard let text = text(value) else { return .failure(QuantityError("must be a quantity like 512Mi, or max")) }
        if text == "max" { return .success(nil) }
        var number = Substring(text)
        var multiplier: UInt64 = 1
        if let suffix = binary.keys.first(where: { text.hasSuffix($0) }) {
            multiplier = binary[suffix]!
            number = number.dropLast(2)
        } else if let last = text.last, let factor = decimal[String(last)] {
            multiplier = factor
            number = number.dropLast()
        }
        guard let (parsedWhole, fraction, scale) = decimalValue(number) else {
            return .failure(QuantityError("\"\(text)\" is not a quantity: a number with an optional suffix Ki Mi Gi Ti Pi Ei or k M G T P E, or max"))
        }
        guard let whole = parsedWhole else { return .failure(tooLarge(text, "\(maximumBytes) bytes")) }
        // fraction < scale, so fraction × multiplier / scale < multiplier: the full-width product fits the division.
        let (fractional, remainder) = scale.dividingFullWidth(fraction.multipliedFullWidth(by: multiplier))
        guard remainder == 0 else { return .failure(QuantityError("\"\(text)\" is not a whole number of bytes")) }
        let (product, productOverflow) = whole.multipliedReportingOverflow(by: multiplier)
        let (total, sumOverflow) = product.addingReportingOverflow(fractional)
        guard !productOverflow, !sumOverflow, total <= maximumBytes else { return .failure(tooLarge(text, "\(maximumBytes) bytes")) }
        return .success(total)
    }

    /// A count (pids, IOPS): a whole number or `max` (nil).
    public static func count(_ value: ManifestValue) -> Result<UInt64?, QuantityError> {
        if case .integer(let number) = value {
            return number >= 0 ? .success(UInt64(number)) : .failure(QuantityError("\(number) must not be negative"))
        }
        if value.stringValue == "max" { return .success(nil) }
        // Digits the schema did not read as an integer: past what 64 bits hold.
        if let text = value.stringValue, !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            return .failure(tooLarge(text, String(maximumCount)))
        }
        return .failure(QuantityError("must be a whole number or max"))
    }

    /// CPU time per period in milli-CPUs (`1.5` and `1500m` are 1500; `2` is 2000), or nil for
    /// `max`; at least 10m (the kernel's 1 ms quota per 100 ms period), at most
    /// `maximumCPUMillis`, scaled with checked arithmetic.
    public static func cpuMillis(_ value: ManifestValue) -> Result<Int64?, QuantityError> {
        guard let text = text(value) else { return .failure(QuantityError("must be a number of CPUs like 1.5 or 500m, or max")) }
        if text == "max" { return .success(nil) }
        let written = text.hasSuffix("m") ? text.dropLast() : Substring(text)
        let limit = "1000000 CPUs (1000000000m)"
        guard let amount = decimalValue(written) else {
            return .failure(QuantityError("\"\(text)\" is not a number of CPUs like 1.5, 2 or 500m, or max"))
        }
        guard let whole = amount.whole else { return .failure(tooLarge(text, limit)) }
        let millis: UInt64
        if text.hasSuffix("m") {
            guard amount.fraction == 0 else { return .failure(QuantityError("\"\(text)\" is not a number of CPUs like 1.5, 2 or 500m, or max")) }
            millis = whole
        } else {
            // fraction < scale ≤ 10⁹: fraction × 1000 fits.
            guard (amount.fraction * 1000) % amount.scale == 0 else {
                return .failure(QuantityError("\"\(text)\" is not a number of CPUs like 1.5, 2 or 500m, or max"))
            }
            let (wholeMillis, overflow) = whole.multipliedReportingOverflow(by: 1000)
            guard !overflow, wholeMillis <= maximumCPUMillis else { return .failure(tooLarge(text, limit)) }
            millis = wholeMillis + amount.fraction * 1000 / amount.scale
        }
        guard millis >= 10 else { return .failure(QuantityError("\"\(text)\" is below 10m, the least the kernel accepts (1 ms per 100 ms)")) }
        guard millis <= maximumCPUMillis else { return .failure(tooLarge(text, limit)) }
        return .success(Int64(millis))
    }

    /// `2MB` → 2 MiB, as the kernel names huge page sizes in `hugetlb.<size>.max` (KB, MB, GB);
    /// nil when it is not such a name or is past `maximumPageSize` (checked, never a trap).
    public static func pageSizeBytes(_ size: String) -> UInt64? {
        let units: [(String, UInt64)] = [("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30)]
        guard let (suffix, unit) = units.first(where: { size.hasSuffix($0.0) }), let number = UInt64(size.dropLast(suffix.count)), number > 0,
            String(number) + suffix == size
        else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: unit)
        return overflow || bytes > maximumPageSize ? nil : bytes
    }

    static func tooLarge(_ text: String, _ limit: String) -> QuantityError {
        QuantityError("\"\(text)\" is too large: at most \(limit)")
    }

    /// Why `device` is not a block device number `MAJ:MIN`, or nil.
    public static func deviceProblem(_ device: String) -> String? {
        let parts = device.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 10 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
        else { return "\"\(device)\" is not a block device number MAJ:MIN (like 8:0; see lsblk -o NAME,MAJ:MIN)" }
        return nil
    }

    /// `1.25` → (1, 25, 100): whole part, fraction digits, and the fraction's scale; nil when
    /// it is not a plain decimal number (at most 9 fraction digits). The whole part is nil when
    /// its digits are past what 64 bits hold (read with checked arithmetic).
    static func decimalValue(_ text: Substring) -> (whole: UInt64?, fraction: UInt64, scale: UInt64)? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let first = parts.first, !first.isEmpty, first.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        var whole: UInt64? = 0
        for digit in first.utf8 {
            guard let sofar = whole else { break }
            let (shifted, overflow) = sofar.multipliedReportingOverflow(by: 10)
            let (next, carry) = shifted.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            whole = overflow || carry ? nil : next
        }
        guard parts.count == 2 else { return (whole, 0, 1) }
        let digits = parts[1]
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let fraction = UInt64(digits) else { return nil }
        var scale: UInt64 = 1
        for _ in 0..<digits.count { scale *= 10 }
        return (whole, fraction, scale)
    }
}

/// Why a quantity does not parse.
public struct QuantityError: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
