import ArgusRedis
import ArgusStatistics
import Atomics
import Logging
import NIOCore

/// Flushes the `sync_rate` counters (``SyncedCounterStore``) to Redis: every tick, each key due
/// for a sync gets its local count added in Redis (`INCRBY`, expiring with its window, in one
/// script) and the window's total of every node read back. Runs on its own event loop (the
/// control listeners'), never the proxy's; a failed flush is retried at the next tick.
public final class RateLimitSyncer: ReportsStatistics, Sendable {
    static let script = RedisScript(
        """
        local v = redis.call('INCRBY', KEYS[1], ARGV[1])
        if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
        return v
        """)

    private let store: SyncedCounterStore
    private let eventLoop: any EventLoop
    private let clock: @Sendable () -> Int64
    private let logger: Logger
    private let tick: TimeAmount
    private let clients: RedisClientSet
    private let task: NIOLoopBoundBox<RepeatedTask?>
    private let flushed = ManagedAtomic<Int>(0)
    private let failures = ManagedAtomic<Int>(0)

    public init(
        store: SyncedCounterStore, eventLoop: any EventLoop, clock: @escaping @Sendable () -> Int64, logger: Logger,
        tick: TimeAmount = .milliseconds(20)
    ) {
        self.store = store
        self.eventLoop = eventLoop
        self.clock = clock
        self.logger = logger
        self.tick = tick
        clients = RedisClientSet(eventLoop: eventLoop, logger: logger)
        task = NIOLoopBoundBox.makeBoxSendingValue(nil, eventLoop: eventLoop)
    }

    /// Starts ticking.
    public func start() {
        eventLoop.execute { [self] in
            task.value = eventLoop.scheduleRepeatedAsyncTask(initialDelay: tick, delay: tick) { _ in
                self.flush(all: false)
            }
        }
    }

    /// Stops ticking, flushes everything counted so far, and closes the connections.
    public func stop() async {
        try? await eventLoop.flatSubmit { [self] () -> EventLoopFuture<Void> in
            task.value?.cancel()
            task.value = nil
            return flush(all: true)
        }.get()
        await clients.close()
    }

    /// Sends every due key (pipelined) and completes when every reply is in.
    @discardableResult
    func flush(all: Bool) -> EventLoopFuture<Void> {
        let batch = store.due(nowMs: clock(), all: all)
        guard !batch.isEmpty else { return eventLoop.makeSucceededVoidFuture() }
        let replies = batch.map { flush in
            clients.client(flush.endpoint)
                .evalScript(Self.script, keys: [flush.key], arguments: [String(flush.delta), String(flush.expirySeconds)])
                .map { reply -> Void in
                    self.store.synced(flush, total: reply.int ?? 0)
                    self.flushed.wrappingIncrement(by: 1, ordering: .relaxed)
                }
                .flatMapErrorThrowing { error in
                    self.store.failed(flush)
                    self.failures.wrappingIncrement(by: 1, ordering: .relaxed)
                    throw error
                }
        }
        return EventLoopFuture.whenAllComplete(replies, on: eventLoop).map { results in
            if let failure = results.first(where: { if case .failure = $0 { return true } else { return false } }),
               case .failure(let error) = failure
            {
                self.logger.warning("rate-limiting: sync to redis failed, retrying", metadata: ["error": "\(error)"])
            }
        }
    }

    public func statistics() -> [ExporterStatistic] {
        [
            ExporterStatistic(
                family: "argus_ratelimit_sync_flushes_total", kind: .counter,
                help: "sync_rate counter flushes to Redis that succeeded", value: Double(flushed.load(ordering: .relaxed))),
            ExporterStatistic(
                family: "argus_ratelimit_sync_errors_total", kind: .counter,
                help: "sync_rate counter flushes to Redis that failed (retried)", value: Double(failures.load(ordering: .relaxed))),
            ExporterStatistic(
                family: "argus_ratelimit_sync_unsynced_requests", kind: .gauge,
                help: "Requests counted locally under sync_rate and not yet added in Redis", value: Double(store.unsynced)),
        ]
    }
}
