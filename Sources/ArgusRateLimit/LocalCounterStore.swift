import NIOConcurrencyHelpers

/// The counters of the `local` policy, shared by every event loop of one node.
///
/// Exact under concurrency: a request's check of every window and its increment happen in one
/// critical section, so N concurrent clients against a limit L get exactly L admitted per
/// window, and the remaining counts agree with what was admitted. There is no global lock: the
/// table is split into 64 shards by the key's hash, each with its own (uncontended in practice,
/// tens of nanoseconds) lock, so requests for different identifiers rarely meet.
///
/// Memory of windows that ended is reclaimed by ``sweep(nowMs:)``, which the proxy runs
/// periodically.
public final class LocalCounterStore: Sendable {
    struct Key: Hashable, Sendable {
        /// The plugin instance's scope (`<route id>:<service id>`, Kong's counter scope).
        var scope: String
        var identifier: String
    }

    struct Entry: Sendable {
        var windowStart = PeriodValues()
        var count = PeriodValues()
        /// The count of the window before the current one (for the sliding algorithm).
        var previous = PeriodValues()
        /// End of the longest window this entry still needs (current window end, or the next one's
        /// end for the sliding algorithm, which weighs the previous window).
        var keepUntil: Int64 = 0
    }

    private let table = ShardedTable<Key, Entry>()

    public init() {}

    @inline(__always)
    private func shard(_ key: Key) -> NIOLockedValueBox<[Key: Entry]> { table.shard(key) }

    /// Checks every configured window and, if none is exhausted, counts the request in all of
    /// them, atomically. A rejected request is not counted (as Kong).
    public func check(
        scope: String, identifier: String, limits: [(period: RateLimitPeriod, limit: Int64)],
        algorithm: RateLimitSettings.Algorithm, nowMs: Int64
    ) -> RateLimitUsage {
        let key = Key(scope: scope, identifier: identifier)
        return shard(key).withLockedValue { table in
            Self.apply(&table[key, default: Entry()], limits: limits, algorithm: algorithm, nowMs: nowMs, count: true)
        }
    }

    /// The usage as it stands (nothing counted), for the Admin API's usage view. Unknown keys
    /// report every window untouched.
    public func peek(
        scope: String, identifier: String, limits: [(period: RateLimitPeriod, limit: Int64)],
        algorithm: RateLimitSettings.Algorithm, nowMs: Int64
    ) -> RateLimitUsage {
        let key = Key(scope: scope, identifier: identifier)
        var entry = shard(key).withLockedValue { $0[key] } ?? Entry()
        var usage = Self.apply(&entry, limits: limits, algorithm: algorithm, nowMs: nowMs, count: false)
        // A peek is not a request: report the quota left before one.
        for (period, limit) in limits {
            let used = Self.used(entry, period, algorithm, nowMs)
            usage.used[period] = used
            usage.remaining[period] = max(0, limit - used)
        }
        usage.stop = nil
        return usage
    }

    /// Counters held (all shards).
    public var count: Int { table.count }

    /// Forgets every counter whose windows have all ended. Returns how many were removed.
    @discardableResult
    public func sweep(nowMs: Int64) -> Int {
        table.removeAll { $0.keepUntil <= nowMs }
    }

    // MARK: - The algorithm

    /// Rolls each window forward to `nowMs`, decides, and counts the request if `count` and admitted.
    static func apply(
        _ entry: inout Entry, limits: [(period: RateLimitPeriod, limit: Int64)], algorithm: RateLimitSettings.Algorithm,
        nowMs: Int64, count: Bool
    ) -> RateLimitUsage {
        var usage = RateLimitUsage(nowMs: nowMs)
        for (period, limit) in limits {
            roll(&entry, period, nowMs)
            let used = used(entry, period, algorithm, nowMs)
            if used >= limit { usage.stop = period }
            usage.remaining[period] = limit - used
        }
        for (period, _) in limits {
            if usage.stop == nil {
                if count { entry.count[period] += 1 }
                usage.remaining[period] = max(0, usage.remaining[period] - 1)
            } else {
                // Kong: the exhausted window shows 0; the others show what is left, uncounted.
                usage.remaining[period] = max(0, period == usage.stop ? 0 : usage.remaining[period])
            }
        }
        return usage
    }

    /// Moves the window of `period` to the one containing `nowMs`, keeping the count of the window
    /// just before it (for the sliding algorithm).
    static func roll(_ entry: inout Entry, _ period: RateLimitPeriod, _ nowMs: Int64) {
        let start = period.windowStart(ms: nowMs)
        let held = entry.windowStart[period]
        guard held != start else { return }
        let previousStart = period.windowStart(ms: start - 1)
        entry.previous[period] = held == previousStart ? entry.count[period] : 0
        entry.count[period] = 0
        entry.windowStart[period] = start
        // Sliding needs this window's count through the next window.
        let needed = period.nextWindowStart(ms: period.nextWindowStart(ms: nowMs))
        entry.keepUntil = max(entry.keepUntil, needed)
    }

    /// Requests counted against `period` at `nowMs` (the window must be rolled to `nowMs`).
    static func used(_ entry: Entry, _ period: RateLimitPeriod, _ algorithm: RateLimitSettings.Algorithm, _ nowMs: Int64) -> Int64 {
        let current = entry.count[period]
        guard algorithm == .sliding, entry.previous[period] > 0 else { return current }
        return current + slidingWeight(entry.previous[period], period, nowMs)
    }

    /// The part of the previous window's count that still overlaps the last window-length of time.
    static func slidingWeight(_ previous: Int64, _ period: RateLimitPeriod, _ nowMs: Int64) -> Int64 {
        let start = period.windowStart(ms: nowMs)
        let length = period.nextWindowStart(ms: nowMs) - start
        let left = length - (nowMs - start)
        return Int64((Double(previous) * Double(left) / Double(length)).rounded(.down))
    }
}
