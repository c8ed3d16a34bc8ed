import ArgusRedis
import NIOCore

/// The `redis` policy of `response-ratelimiting`: the access phase reads every window's count
/// (one `MGET`), and the ring consumer adds a response's spending to each window (one script:
/// `INCRBY`, and the window's expiry when the key is new, as Kong's `EXISTS`/`INCRBY`/`EXPIRE`
/// pipeline does), with Kong's keys, so Argus and Kong nodes sharing a Redis count together.
public enum RedisResponseLimits {
    /// KEYS: every window of every limit spent; ARGV: per key, the increment and the expiry (s).
    static let script = RedisScript(
        """
        for i = 1, #KEYS do
          redis.call('INCRBY', KEYS[i], ARGV[2 * i - 1])
          if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[2 * i]) end
        end
        return #KEYS
        """)

    /// What was spent in each window (the order of the plan's keys).
    public static func spent(
        _ plan: ResponseRateLimitPlan, identifier: String, nowMs: Int64, client: RedisClient
    ) -> EventLoopFuture<[Int64]> {
        let keys = plan.keys(identifier: identifier, nowMs: nowMs)
        return client.send(["MGET"] + keys).flatMapThrowing { reply in
            guard let values = reply.array, values.count == keys.count else { throw RedisError.unexpectedReply("\(reply)") }
            return values.map { $0.int ?? 0 }
        }
    }

    /// Adds a response's spending to every window of each limit it names (one script), each new
    /// key expiring with Kong's period length.
    public static func add(
        _ plan: ResponseRateLimitPlan, identifier: String, nowMs: Int64, increments: [(limit: Int, value: Int64)], client: RedisClient
    ) -> EventLoopFuture<Void> {
        var keys: [String] = []
        var arguments: [String] = []
        for (limit, value) in increments where value != 0 && limit < plan.limits.count {
            for window in plan.limits[limit].windows {
                keys.append(plan.key(identifier: identifier, limit: limit, period: window.period, nowMs: nowMs))
                arguments += [String(value), String(window.period.nominalSeconds)]
            }
        }
        guard !keys.isEmpty else { return client.eventLoop.makeSucceededVoidFuture() }
        return client.evalScript(script, keys: keys, arguments: arguments).map { _ in }
    }
}
