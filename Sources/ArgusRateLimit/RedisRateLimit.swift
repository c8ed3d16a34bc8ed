import ArgusRedis
import NIOCore

/// The `redis` policy: every window is checked and, when none is exhausted, incremented in one
/// Lua script inside Redis, so several Argus nodes sharing one Redis admit exactly the limit
/// together (Kong checks and increments in separate steps, which lets bursts through).
public enum RedisRateLimit {
    /// KEYS: the current window's key per period, then (sliding) the previous window's key per period.
    /// ARGV: n, sliding (0/1), then per period: limit, expiry seconds, weight of the previous
    /// window in millionths. Returns {stop, used_1, …, used_n}: stop is the 1-based index of an
    /// exhausted window (the last one), 0 when admitted; used_i is the count before this request.
    public static let script = RedisScript(
        """
        local n = tonumber(ARGV[1])
        local sliding = ARGV[2] == '1'
        local used = {}
        local stop = 0
        for i = 1, n do
          local base = 2 + (i - 1) * 3
          local u = tonumber(redis.call('GET', KEYS[i]) or '0')
          if sliding then
            local prev = tonumber(redis.call('GET', KEYS[n + i]) or '0')
            u = u + math.floor(prev * tonumber(ARGV[base + 3]) / 1000000)
          end
          used[i] = u
          if u >= tonumber(ARGV[base + 1]) then stop = i end
        end
        if stop == 0 then
          for i = 1, n do
            local base = 2 + (i - 1) * 3
            if redis.call('INCR', KEYS[i]) == 1 then
              redis.call('EXPIRE', KEYS[i], ARGV[base + 2])
            end
          end
        end
        local out = {stop}
        for i = 1, n do out[i + 1] = used[i] end
        return out
        """)

    /// Checks and counts one request in Redis.
    public static func check(
        _ plan: RateLimitPlan, identifier: String, nowMs: Int64, client: RedisClient
    ) -> EventLoopFuture<RateLimitUsage> {
        let limits = plan.settings.limits
        let sliding = plan.settings.algorithm == .sliding
        var keys: [String] = []
        var previousKeys: [String] = []
        var arguments = [String(limits.count), sliding ? "1" : "0"]
        for (period, limit) in limits {
            let start = period.windowStart(ms: nowMs)
            let next = period.nextWindowStart(ms: nowMs)
            keys.append(plan.redisKey(identifier: identifier, period: period, windowStart: start))
            // The key lives to the end of its window (through the next one when it is weighed by
            // the sliding algorithm), never a nominal 30-day month.
            var until = next
            if sliding {
                until = period.nextWindowStart(ms: next)
                previousKeys.append(plan.redisKey(identifier: identifier, period: period, windowStart: period.windowStart(ms: start - 1)))
            }
            let expiry = max(1, (until - nowMs + 999) / 1000)
            let weight = sliding ? (next - nowMs) * 1_000_000 / max(1, next - start) : 0
            arguments += [String(limit), String(expiry), String(weight)]
        }
        return client.evalScript(script, keys: keys + previousKeys, arguments: arguments).flatMapThrowing { reply in
            guard let values = reply.array, values.count == limits.count + 1, let stop = values[0].int else {
                throw RedisError.unexpectedReply("\(reply)")
            }
            var usage = RateLimitUsage(nowMs: nowMs)
            if stop > 0 && Int(stop) <= limits.count { usage.stop = limits[Int(stop) - 1].period }
            for (i, (period, limit)) in limits.enumerated() {
                let used = values[i + 1].int ?? 0
                if usage.stop == nil {
                    usage.remaining[period] = max(0, limit - used - 1)
                } else {
                    usage.remaining[period] = period == usage.stop ? 0 : max(0, limit - used)
                }
            }
            return usage
        }
    }

    /// The usage as it stands in Redis (nothing counted), for the Admin API's usage view.
    public static func peek(
        _ plan: RateLimitPlan, identifier: String, nowMs: Int64, client: RedisClient
    ) -> EventLoopFuture<RateLimitUsage> {
        let limits = plan.settings.limits
        let sliding = plan.settings.algorithm == .sliding
        let keys = limits.flatMap { period, _ in
            let start = period.windowStart(ms: nowMs)
            return [
                plan.redisKey(identifier: identifier, period: period, windowStart: start),
                plan.redisKey(identifier: identifier, period: period, windowStart: period.windowStart(ms: start - 1)),
            ]
        }
        return client.send(["MGET"] + keys).flatMapThrowing { reply in
            guard let values = reply.array, values.count == keys.count else { throw RedisError.unexpectedReply("\(reply)") }
            var usage = RateLimitUsage(nowMs: nowMs)
            for (i, (period, limit)) in limits.enumerated() {
                var used = values[2 * i].int ?? 0
                if sliding, let previous = values[2 * i + 1].int, previous > 0 {
                    used += LocalCounterStore.slidingWeight(previous, period, nowMs)
                }
                usage.used[period] = used
                usage.remaining[period] = max(0, limit - used)
            }
            return usage
        }
    }
}
