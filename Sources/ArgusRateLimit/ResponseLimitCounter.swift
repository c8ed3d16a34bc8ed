import ArgusConfig
import ArgusEvents
import ArgusRedis
import ArgusStatistics
import Atomics
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Counts what responses spent of `response-ratelimiting` limits, off the request path: a
/// consumer of the event ring (Kong counts them in a timer after the log phase). An event whose
/// response spent something says so in a bit, and its details carry the instance, the access
/// phase's clock and identifier, and the increments; they go to this node's counters (`local`)
/// or to Redis (`redis`, on the control loop). Later requests' access phases read them.
public final class ResponseLimitCounter: EventExporter, ReportsStatistics {
    public let name = "response-ratelimiting"
    private let ring: EventRing
    private let store: ResponseCounterStore
    private let config: @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig)
    private let clients: RedisClientSet
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// Whether the last config version seen has an instance (5 ms polls then, else 50 ms).
    private let active = ManagedAtomic<Bool>(false)
    private let counted = ManagedAtomic<Int>(0)
    private let failed = ManagedAtomic<Int>(0)
    private let withoutDetail = ManagedAtomic<Int>(0)
    private let pending = ManagedAtomic<Int>(0)

    struct State: Sendable {
        /// Per config version: the instances by their index in `plugins`.
        var plans: [UInt32: [Int16: ResponseRateLimitPlan]] = [:]
        var detail: [UInt8] = []
        var lastFailureLog: ContinuousClock.Instant?
    }

    /// - Parameter eventLoop: where the Redis clients live (the control plane's, never a proxy loop).
    public init(
        ring: EventRing, store: ResponseCounterStore, config: @escaping @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig),
        eventLoop: any EventLoop, logger: Logger
    ) {
        self.ring = ring
        self.store = store
        self.config = config
        self.logger = logger
        clients = RedisClientSet(eventLoop: eventLoop, logger: logger)
    }

    /// The instances of config `version` (nil when that version is no longer kept: its plugin
    /// indexes could name other plugins in the current one).
    private func plans(_ version: UInt32, _ state: inout State) -> [Int16: ResponseRateLimitPlan]? {
        if let plans = state.plans[version] { return plans }
        let found = config(version)
        guard found.version == version else { return nil }
        var plans: [Int16: ResponseRateLimitPlan] = [:]
        for (i, plugin) in found.config.plugins.enumerated() where plugin.name == "response-ratelimiting" && plugin.enabled {
            plans[Int16(clamping: i)] = ResponseRateLimitPlan(plugin: plugin, index: i)
        }
        if state.plans.count >= 4, let oldest = state.plans.keys.min() { state.plans[oldest] = nil }
        state.plans[version] = plans
        return plans
    }

    public func receive(_ events: UnsafeBufferPointer<RequestEvent>) {
        state.withLockedValue { state in
            // polls often only while the running config has an instance
            if let last = events.last { active.store(!(plans(last.configVersion, &state)?.isEmpty ?? true), ordering: .relaxed) }
            for event in events where event.spentResponseLimits {
                guard ring.detail(of: event, into: &state.detail) else {
                    withoutDetail.wrappingIncrement(ordering: .relaxed)
                    continue
                }
                let spent = state.detail.withUnsafeBytes { RequestDetail.Parts($0)?.responseLimits }
                guard let spent, let plan = plans(event.configVersion, &state)?[spent.plugin] else { continue }
                let increments = spent.increments.map { (limit: Int($0.limit), value: $0.value) }
                switch plan.policy {
                case .local:
                    store.add(plan, identifier: spent.identifier, nowMs: spent.nowMs, increments: increments)
                    counted.wrappingIncrement(ordering: .relaxed)
                case .redis:
                    guard let endpoint = plan.redis else { continue }
                    addInRedis(plan, endpoint, spent, increments)
                }
            }
        }
    }

    /// One script per response, on the control loop; a failure is counted and logged (at most once
    /// a second), as Kong logs a failed increment.
    private func addInRedis(
        _ plan: ResponseRateLimitPlan, _ endpoint: RedisEndpoint, _ spent: RequestDetail.ResponseLimits,
        _ increments: [(limit: Int, value: Int64)]
    ) {
        pending.wrappingIncrement(ordering: .relaxed)
        clients.eventLoop.execute { [self] in
            RedisResponseLimits.add(plan, identifier: spent.identifier, nowMs: spent.nowMs, increments: increments, client: clients.client(endpoint))
                .whenComplete { result in
                    self.pending.wrappingDecrement(ordering: .relaxed)
                    switch result {
                    case .success: self.counted.wrappingIncrement(ordering: .relaxed)
                    case .failure(let error): self.failedInRedis(error, endpoint)
                    }
                }
        }
    }

    private func failedInRedis(_ error: any Error, _ endpoint: RedisEndpoint) {
        failed.wrappingIncrement(ordering: .relaxed)
        let now = ContinuousClock.now
        let log = state.withLockedValue { state in
            if let last = state.lastFailureLog, now - last < .seconds(1) { return false }
            state.lastFailureLog = now
            return true
        }
        if log {
            logger.error("response-ratelimiting: could not count a response in Redis", metadata: ["redis": "\(endpoint)", "error": "\(error)"])
        }
    }

    public var pollInterval: Duration { active.load(ordering: .relaxed) ? .milliseconds(5) : .milliseconds(50) }

    public func finish() async {
        // the Redis increments already sent are given a moment to land
        let deadline = ContinuousClock.now + .seconds(2)
        while pending.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        await clients.close()
    }

    public func statistics() -> [ExporterStatistic] {
        let help = "Responses' response-ratelimiting spending counted from the event ring, by outcome"
        return [
            ("counted", counted.load(ordering: .relaxed)), ("failed", failed.load(ordering: .relaxed)),
            ("without_detail", withoutDetail.load(ordering: .relaxed)),
        ].map { outcome, value in
            ExporterStatistic(
                family: "argus_response_ratelimit_increments_total", kind: .counter, help: help, labels: [.init("outcome", outcome)],
                value: Double(value))
        } + [
            ExporterStatistic(
                family: "argus_response_ratelimit_redis_pending", kind: .gauge, help: "response-ratelimiting responses sent to Redis and not yet answered",
                value: Double(pending.load(ordering: .relaxed))),
        ]
    }
}
