import ArgusRedis
import NIOConcurrencyHelpers

/// The counters of the `redis` policy with `sync_rate` set: requests are checked and counted
/// locally, like the `local` policy, against what Redis said at the last sync plus what this node
/// counted since; a ``RateLimitSyncer`` adds the local counts to Redis every `sync_rate` seconds
/// and reads back the total of every node.
///
/// The request path never waits for Redis. The price is overshoot across nodes: between two syncs
/// each node admits at most the quota it saw left at the last one, so with N nodes a window admits
/// at most `L + (N − 1) · (L − K)` requests, K being the window's count at the last sync (worst
/// case `N · L`, when every node starts a window before any sync); in steady traffic the excess is
/// about `(N − 1) · rate · sync_rate`. No admitted request is lost from Redis's count: a failed
/// flush is added back and sent again.
public final class SyncedCounterStore: Sendable {
    struct Entry: Sendable {
        /// The window's total in Redis at the last sync (every node's counts, ours included).
        var known: Int64 = 0
        /// Counted here since the last sync.
        var pending: Int64 = 0
        /// Sent to Redis and not acknowledged yet (counted as used meanwhile).
        var inFlight: Int64 = 0
        var endpoint: RedisEndpoint
        var syncRateMs: Int64
        /// When the key may be forgotten (ms): the window's end (the next one's for sliding).
        var keepUntil: Int64
        var lastSync: Int64 = 0

        var used: Int64 { known + pending + inFlight }
    }

    static let shardCount = 32
    private let shards: [NIOLockedValueBox<[String: Entry]>]

    public init() {
        shards = (0..<Self.shardCount).map { _ in NIOLockedValueBox([:]) }
    }

    @inline(__always)
    private func shard(_ key: String) -> NIOLockedValueBox<[String: Entry]> {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(Self.shardCount))]
    }

    /// Checks and counts one request locally against the synced totals. Each window is a separate
    /// key (as in Redis), so the check of several windows is not atomic across them; within one
    /// node a window never admits more than its limit.
    public func check(_ plan: RateLimitPlan, identifier: String, nowMs: Int64) -> RateLimitUsage {
        let settings = plan.settings
        guard let endpoint = settings.redis else { return RateLimitUsage(nowMs: nowMs) }
        let syncRateMs = Int64((settings.syncRate ?? 1) * 1000)
        let sliding = settings.algorithm == .sliding
        var usage = RateLimitUsage(nowMs: nowMs)
        var keys: [String] = []
        keys.reserveCapacity(settings.limits.count)
        for (period, limit) in settings.limits {
            let start = period.windowStart(ms: nowMs)
            let next = period.nextWindowStart(ms: nowMs)
            let key = plan.redisKey(identifier: identifier, period: period, windowStart: start)
            keys.append(key)
            var used = shard(key).withLockedValue { table in
                if table[key] == nil {
                    table[key] = Entry(
                        endpoint: endpoint, syncRateMs: syncRateMs, keepUntil: sliding ? period.nextWindowStart(ms: next) : next)
                }
                return table[key]!.used
            }
            if sliding {
                let previousKey = plan.redisKey(identifier: identifier, period: period, windowStart: period.windowStart(ms: start - 1))
                if let previous = shard(previousKey).withLockedValue({ $0[previousKey]?.used }), previous > 0 {
                    used += LocalCounterStore.slidingWeight(previous, period, nowMs)
                }
            }
            usage.used[period] = used
            usage.remaining[period] = limit - used
            if used >= limit { usage.stop = period }
        }
        for (i, (period, _)) in settings.limits.enumerated() {
            if usage.stop == nil {
                shard(keys[i]).withLockedValue { $0[keys[i]]?.pending += 1 }
                usage.remaining[period] = max(0, usage.remaining[period] - 1)
            } else {
                usage.remaining[period] = period == usage.stop ? 0 : max(0, usage.remaining[period])
            }
        }
        return usage
    }

    /// One key to sync: its local count to add (0 just reads the total back) and its expiry.
    public struct Flush: Sendable {
        public var key: String
        public var endpoint: RedisEndpoint
        public var delta: Int64
        public var expirySeconds: Int64
    }

    /// The keys due for a sync at `nowMs` (or all of them with `all`), their pending counts moved
    /// to in-flight. Keys whose windows ended are forgotten (after a last flush of what they hold).
    public func due(nowMs: Int64, all: Bool = false) -> [Flush] {
        var out: [Flush] = []
        for shard in shards {
            shard.withLockedValue { table in
                for (key, entry) in table {
                    let expired = entry.keepUntil <= nowMs
                    if expired && entry.pending == 0 && entry.inFlight == 0 {
                        table[key] = nil
                        continue
                    }
                    guard all || expired || nowMs - entry.lastSync >= entry.syncRateMs, entry.inFlight == 0 else { continue }
                    var e = entry
                    e.inFlight = e.pending
                    e.pending = 0
                    e.lastSync = nowMs
                    table[key] = e
                    out.append(Flush(
                        key: key, endpoint: e.endpoint, delta: e.inFlight, expirySeconds: max(1, (e.keepUntil - nowMs + 999) / 1000)))
                }
            }
        }
        return out
    }

    /// Redis acknowledged a flush and answered the window's total.
    public func synced(_ flush: Flush, total: Int64) {
        shard(flush.key).withLockedValue { table in
            guard var e = table[flush.key] else { return }
            e.inFlight = 0
            e.known = max(total, 0)
            table[flush.key] = e
        }
    }

    /// A flush failed: its count goes back to pending, to be sent again.
    public func failed(_ flush: Flush) {
        shard(flush.key).withLockedValue { table in
            guard var e = table[flush.key] else { return }
            e.pending += e.inFlight
            e.inFlight = 0
            table[flush.key] = e
        }
    }

    /// Requests counted here and not yet in Redis (pending and in flight), over all keys.
    public var unsynced: Int64 {
        shards.reduce(0) { sum, shard in sum + shard.withLockedValue { $0.values.reduce(0) { $0 + $1.pending + $1.inFlight } } }
    }

    /// Keys held.
    public var count: Int { shards.reduce(0) { $0 + $1.withLockedValue { $0.count } } }
}
