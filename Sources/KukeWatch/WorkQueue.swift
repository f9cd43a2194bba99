/// Work keyed by resource: each key is due at one instant (the earliest asked for), so a
/// burst of requests for one resource runs once. Failures back off per key.
public struct WorkQueue<Key: Hashable & Sendable>: Sendable {
    /// First retry after a failure, in seconds; doubled on each further failure.
    public static var backoffBase: Double { 1 }
    /// The longest wait between retries, in seconds.
    public static var backoffCap: Double { 300 }

    private(set) var due: [Key: Double] = [:]
    private(set) var failures: [Key: Int] = [:]
    private(set) var permanentFailures: [Key: Int] = [:]

    public init() {}

    /// Asks for `key` to run at `time` (seconds on a monotonic clock); an earlier request wins.
    public mutating func schedule(_ key: Key, at time: Double) {
        if let current = due[key], current <= time { return }
        due[key] = time
    }

    /// Removes and returns the keys due at `now`.
    public mutating func takeDue(now: Double) -> [Key] {
        let ready = due.filter { $0.value <= now }.map(\.key)
        for key in ready { due[key] = nil }
        return ready
    }

    /// Records a failure and schedules the retry; returns the delay and attempt number.
    @discardableResult
    public mutating func failed(_ key: Key, now: Double) -> (delay: Double, attempt: Int) {
        let attempt = (failures[key] ?? 0) + 1
        failures[key] = attempt
        let delay = Self.delay(attempt: attempt)
        schedule(key, at: now + delay)
        return (delay, attempt)
    }

    /// Records a failure that no retry fixes by itself: counted, but not scheduled (its next
    /// run comes from a change to its manifest, a resync or SIGHUP). Returns the attempt number.
    @discardableResult
    public mutating func failedPermanently(_ key: Key) -> Int {
        // Counted apart: a later transient failure starts its backoff at 1 s.
        let attempt = (permanentFailures[key] ?? 0) + 1
        permanentFailures[key] = attempt
        return attempt
    }

    /// The wait before retry number `attempt`: 1 s, 2 s, 4 s, … up to 5 minutes.
    public static func delay(attempt: Int) -> Double {
        min(backoffCap, backoffBase * Double(1 << min(attempt - 1, 20)))
    }

    /// Forgets a key's failures (it succeeded, or it is gone).
    public mutating func succeeded(_ key: Key) {
        failures[key] = nil
        permanentFailures[key] = nil
    }

    public mutating func forget(_ key: Key) {
        due[key] = nil
        failures[key] = nil
        permanentFailures[key] = nil
    }

    /// When a key is due next, if it is queued.
    public func dueTime(_ key: Key) -> Double? { due[key] }

    /// The earliest time any key is due.
    public var earliestDue: Double? { due.values.min() }
}
