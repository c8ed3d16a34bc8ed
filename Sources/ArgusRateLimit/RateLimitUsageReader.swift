import ArgusRedis
import NIOCore

/// Reads a rate-limiting instance's current usage for one identifier, from the node's local
/// counters or from Redis (through clients of its own, on one event loop of the control
/// listeners, never the proxy's), for the Admin API.
public final class RateLimitUsageReader: Sendable {
    private let counters: LocalCounterStore
    private let clients: RedisClientSet

    public init(counters: LocalCounterStore, eventLoop: any EventLoop) {
        self.counters = counters
        self.clients = RedisClientSet(eventLoop: eventLoop)
    }

    public func usage(_ plan: RateLimitPlan, identifier: String, nowMs: Int64) async throws -> RateLimitUsage {
        let settings = plan.settings
        guard settings.policy == .redis else {
            return counters.peek(scope: plan.scope, identifier: identifier, limits: settings.limits, algorithm: settings.algorithm, nowMs: nowMs)
        }
        guard let endpoint = settings.redis else { throw RedisError.unavailable("no redis host configured") }
        let clients = self.clients
        return try await clients.eventLoop.flatSubmit {
            RedisRateLimit.peek(plan, identifier: identifier, nowMs: nowMs, client: clients.client(endpoint))
        }.get()
    }

    /// Closes the Redis connections.
    public func close() async {
        await clients.close()
    }
}
