import ArgusCache
import ArgusEvents
import ArgusHealth
import ArgusRateLimit
import ArgusRedis
import Logging
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

/// The proxy listener: accepts client connections on every event loop of the group and hands
/// each to a `ProxyHandler` bound to that loop's `LoopContext`.
public final class ProxyServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let contexts: [ObjectIdentifier: NIOLoopBoundBox<LoopContext?>]
    private let loopIndex: [ObjectIdentifier: Int]
    private let store: SnapshotStore
    private let settings: ProxySettings
    private let logger: Logger
    public let stats: ProxyStats
    /// Every request the proxy handles becomes one `RequestEvent` here (one lane per event loop).
    public let events: EventRing
    private let channels = NIOLockedValueBox<[any Channel]>([])
    /// The `local` rate-limiting counters of this node; they survive reloads (a reloaded instance
    /// keeps its counts, as in Kong).
    public let rateLimitCounters = LocalCounterStore()
    /// The counters of `redis` instances with `sync_rate` (flushed by the gateway's `RateLimitSyncer`).
    public let syncedCounters = SyncedCounterStore()
    /// proxy-cache's store, shared by every loop and instance (the Admin API purges it).
    public let proxyCache: ProxyCacheStore
    private let sweeper: NIOLockedValueBox<RepeatedTask?>

    /// Target health shared with the snapshots' balancers (passive checks report to it).
    public let health: HealthRegistry?

    public init(
        group: MultiThreadedEventLoopGroup, store: SnapshotStore, settings: ProxySettings, logger: Logger, health: HealthRegistry? = nil
    ) {
        self.group = group
        self.health = health
        self.store = store
        self.settings = settings
        self.logger = logger
        var contexts: [ObjectIdentifier: NIOLoopBoundBox<LoopContext?>] = [:]
        var loopIndex: [ObjectIdentifier: Int] = [:]
        for (i, loop) in group.makeIterator().enumerated() {
            contexts[ObjectIdentifier(loop)] = .makeEmptyBox(valueType: LoopContext.self, eventLoop: loop)
            loopIndex[ObjectIdentifier(loop)] = i
        }
        self.contexts = contexts
        self.loopIndex = loopIndex
        self.stats = ProxyStats(loopCount: loopIndex.count)
        self.proxyCache = ProxyCacheStore(budget: settings.proxyCacheBytes)
        self.events = EventRing(
            capacity: settings.eventRingCapacity, lanes: max(1, loopIndex.count), detailCapacity: settings.eventDetailCapacity)
        // Counters of windows that ended are forgotten every 10 s.
        let counters = rateLimitCounters
        let clock = settings.wallClockMilliseconds
        self.sweeper = NIOLockedValueBox(
            group.next().scheduleRepeatedTask(initialDelay: .seconds(10), delay: .seconds(10)) { _ in
                counters.sweep(nowMs: clock())
            })
    }

    /// The loop's context, created on first use on that loop.
    private func context(on loop: any EventLoop) -> LoopContext {
        let box = contexts[ObjectIdentifier(loop)]!
        if let existing = box.value { return existing }
        let index = loopIndex[ObjectIdentifier(loop)]!
        let created = LoopContext(
            eventLoop: loop, store: store, settings: settings, stats: stats.loops[index],
            events: events.producer(lane: index), logger: logger, rateLimitCounters: rateLimitCounters,
            syncedCounters: syncedCounters, health: health, cache: proxyCache)
        box.value = created
        return created
    }

    /// Binds a listener and starts accepting. Returns the bound address (useful with port 0).
    public func bind(host: String, port: Int) async throws -> SocketAddress {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let loopContext = self.context(on: channel.eventLoop)
                    let port = channel.localAddress?.port ?? 0
                    try channel.pipeline.syncOperations.addHandler(ProxyHandler(loop: loopContext, listenerPort: port))
                }
            }
            .bind(host: host, port: port).get()
        channels.withLockedValue { $0.append(channel) }
        return channel.localAddress!
    }

    /// Stops accepting, lets in-flight requests finish for up to `drainTimeout`, then closes the rest.
    public func shutdown(drainTimeout: TimeAmount) async {
        let listening = channels.withLockedValue { list in
            defer { list.removeAll() }
            return list
        }
        for channel in listening { try? await channel.close() }
        await forEachContext { $0.quiesce() }
        let deadline = NIODeadline.now() + drainTimeout
        while NIODeadline.now() < deadline {
            if await openConnections() == 0 { break }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        await forEachContext { $0.closeAll() }
        await forEachContext { $0.redis.closeAll() }
        sweeper.withLockedValue { $0?.cancel() }
    }

    /// Client connections open across all loops.
    public func openConnections() async -> Int {
        var total = 0
        for loop in group.makeIterator() {
            let box = contexts[ObjectIdentifier(loop)]!
            total += (try? await loop.submit { box.value?.openConnections ?? 0 }.get()) ?? 0
        }
        return total
    }

    /// Open client connections by state, summed over the loops (each loop counts its own, briefly).
    public func connectionStates() async -> ConnectionStates {
        var total = ConnectionStates()
        for loop in group.makeIterator() {
            let box = contexts[ObjectIdentifier(loop)]!
            if let states = try? await loop.submit({ box.value?.connectionStates() ?? ConnectionStates() }).get() {
                total.reading += states.reading
                total.writing += states.writing
                total.waiting += states.waiting
            }
        }
        return total
    }

    private func forEachContext(_ body: @escaping @Sendable (LoopContext) -> Void) async {
        for loop in group.makeIterator() {
            let box = contexts[ObjectIdentifier(loop)]!
            try? await loop.submit { if let context = box.value { body(context) } }.get()
        }
    }
}
