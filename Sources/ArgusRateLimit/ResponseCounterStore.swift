import NIOConcurrencyHelpers

/// The `local` policy's counters of `response-ratelimiting`, shared by every event loop of one
/// node (which read them in the access phase) and the ring consumer that adds what responses
/// spent (``ResponseLimitCounter``). One counter per window of Kong's key (scope, identifier,
/// window start, limit, period; as a value, not Kong's text), split into 64 shards each with its
/// own lock; windows that ended are dropped by ``sweep(nowMs:)``.
public final class ResponseCounterStore: Sendable {
    struct Key: Hashable, Sendable {
        var scope: String
        var identifier: String
        var windowStart: Int64
        var limit: Int32
        var period: Int32
    }

    struct Entry: Sendable {
        var count: Int64
        /// When the window ends (after which the key is never read again).
        var until: Int64
    }

    private let table = ShardedTable<Key, Entry>()

    public init() {}

    private func shard(_ key: Key) -> NIOLockedValueBox<[Key: Entry]> { table.shard(key) }

    static func key(_ plan: ResponseRateLimitPlan, _ identifier: String, _ limit: Int, _ period: RateLimitPeriod, _ nowMs: Int64) -> Key {
        Key(scope: plan.scope, identifier: identifier, windowStart: period.windowStart(ms: nowMs), limit: Int32(limit), period: Int32(period.rawValue))
    }

    /// What was spent in each window of `plan`'s limits (the order of its keys), 0 for none.
    public func spent(_ plan: ResponseRateLimitPlan, identifier: String, nowMs: Int64) -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity(4)
        for (i, limit) in plan.limits.enumerated() {
            for window in limit.windows {
                let key = Self.key(plan, identifier, i, window.period, nowMs)
                out.append(shard(key).withLockedValue { table in
                    guard let entry = table[key], entry.until > nowMs else { return 0 }
                    return entry.count
                })
            }
        }
        return out
    }

    /// Adds a response's spending to every window of each limit it names (Kong's `increment`).
    public func add(_ plan: ResponseRateLimitPlan, identifier: String, nowMs: Int64, increments: [(limit: Int, value: Int64)]) {
        for (limit, value) in increments where value != 0 && limit < plan.limits.count {
            for window in plan.limits[limit].windows {
                let key = Self.key(plan, identifier, limit, window.period, nowMs)
                let until = window.period.nextWindowStart(ms: nowMs)
                shard(key).withLockedValue { table in
                    table[key, default: Entry(count: 0, until: until)].count &+= value
                }
            }
        }
    }

    /// Counters held (all shards).
    public var count: Int { table.count }

    /// Forgets the windows that ended. Returns how many were removed.
    @discardableResult
    public func sweep(nowMs: Int64) -> Int {
        table.removeAll { $0.until <= nowMs }
    }
}
