import ArgusTracing
import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusCache
import ArgusConfig
import ArgusEvents
import ArgusHealth
import ArgusHTTP2
import ArgusLoop
import ArgusRateLimit
import ArgusRedis
import ArgusSnapshot
import ArgusTransport
import Atomics
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Everything the data path needs on one event loop: the cached config snapshot, the upstream
/// pool, the request-id generator, the date cache and the open connections. Touched only from
/// its own loop, so nothing in it is locked.
final class LoopContext {
    let eventLoop: IOLoop
    let store: SnapshotStore
    let settings: ProxySettings
    let stats: LoopStats
    /// This loop's lane of the event ring: the only producer on it.
    let events: EventProducer
    let logger: Logger
    let pool: UpstreamPool
    /// HTTP/2 connections to `grpc`/`grpcs` upstreams (their streams, one per request).
    let http2Pool: HTTP2UpstreamPool
    /// The node's `local` rate-limiting counters (shared by every loop).
    let rateLimitCounters: LocalCounterStore
    /// The node's response-ratelimiting `local` counters (shared by every loop and the ring's counter).
    let responseCounters: ResponseCounterStore
    /// The node's `sync_rate` counters (shared by every loop).
    let syncedCounters: SyncedCounterStore
    /// This loop's Redis clients, one per endpoint a rate-limiting instance uses, on this loop:
    /// a check and its answer never leave the thread.
    let redis: RedisClientSet
    /// Target health, for passive health checks (nil: no registry, checks off).
    let health: HealthRegistry?
    /// proxy-cache's store (shared by every loop).
    let cache: ProxyCacheStore
    /// correlation-id's generators on this loop.
    var correlation = CorrelationIDGenerator()
    /// Trace and span ids for the requests an `opentelemetry` instance traces on this loop.
    var traceIDs = TraceIDGenerator()
    /// Client connections accepted on this loop (correlation-id's `tracker`).
    var connectionSerial: UInt64 = 0
    /// Rate-limit store errors are logged at most once a second per loop.
    var storeErrorLog = LogThrottle()
    private var cached: ConfigSnapshot
    private var ids = RequestIDGenerator()
    private var date = HTTPDate()
    private var connections: [ObjectIdentifier: ProxyConnection] = [:]
    /// Open HTTP/2 connections (their streams' `ProxyConnection`s are theirs, not counted above).
    var http2Sessions: [ObjectIdentifier: HTTP2ServerSession] = [:]
    private(set) var quiescing = false
    /// Where a request's details are encoded before they are copied into the ring (reused).
    private let detailEncoder = DetailEncoder()

    init(
        eventLoop: IOLoop, store: SnapshotStore, settings: ProxySettings, stats: LoopStats,
        events: EventProducer, logger: Logger, rateLimitCounters: LocalCounterStore,
        responseCounters: ResponseCounterStore = ResponseCounterStore(), syncedCounters: SyncedCounterStore,
        health: HealthRegistry?, cache: ProxyCacheStore
    ) {
        self.health = health
        self.cache = cache
        self.rateLimitCounters = rateLimitCounters
        self.responseCounters = responseCounters
        self.syncedCounters = syncedCounters
        self.eventLoop = eventLoop
        self.store = store
        self.settings = settings
        self.stats = stats
        self.events = events
        self.logger = logger
        self.pool = UpstreamPool(eventLoop: eventLoop, limits: settings.poolLimits)
        var http2Limits = HTTP2ClientSession.Limits()
        http2Limits.maxStreams = settings.upstreamMaxRequestsPerConnection
        http2Limits.idleTimeout = settings.upstreamIdleTimeout
        self.http2Pool = HTTP2UpstreamPool(connections: pool, limits: http2Limits, counters: stats.http2Upstream)
        self.redis = RedisClientSet(eventLoop: eventLoop, logger: logger)
        self.cached = store.snapshot
    }

    /// The configuration a new request uses.
    @inline(__always)
    func snapshot() -> ConfigSnapshot {
        let current = store.refresh(cached)
        if current !== cached { cached = current }
        return current
    }

    @inline(__always)
    func nextRequestID() -> RequestID { ids.next() }



    func httpDate() -> String { date.current() }

    /// Upstream TLS failures are logged at most once a second per loop.
    private var tlsFailureLog = LogThrottle()
    /// So are clients' failed TLS handshakes.
    private var handshakeFailureLog = LogThrottle()

    /// Logs a client's failed TLS handshake (at info, as nginx logs them; a timeout or a client
    /// that went away at debug).
    func logTLSHandshakeFailure(_ failure: TLSHandshakeFailure, detail: String, peer: SocketAddress?) {
        guard handshakeFailureLog.allows(at: .now()) else { return }
        let level: Logger.Level = failure == .clientClosed || failure == .timeout ? .debug : .info
        logger.log(
            level: level, "TLS handshake with a client failed",
            metadata: ["reason": "\(failure.rawValue)", "detail": "\(detail)", "client": "\(peer?.description ?? "")"])
    }

    /// Logs a TLS failure towards an upstream (a failed handshake, a certificate that does not verify).
    func logUpstreamTLSFailure(_ description: String, target: PoolKey, verification: Bool) {
        guard tlsFailureLog.allows(at: .now()) else { return }
        logger.error(
            verification ? "upstream TLS certificate verification failed" : "upstream TLS handshake failed",
            metadata: ["upstream": "\(target.host):\(target.port)", "server_name": "\(target.tls?.serverName ?? "")", "error": "\(description)"])
    }

    /// Publishes `event` with the request's details: the raw request head, the request target of
    /// the upstream request line, the response head (cut at its empty line), and the tries.
    func publishWithDetail(
        _ event: RequestEvent, requestHead: ByteBuffer?, upstreamHead: ByteBuffer?, responseHead: ByteBuffer?,
        tries: [RequestDetail.Try], serverPort: Int, credentialID: String? = nil, correlationID: String? = nil,
        tls: RequestDetail.TLSFacts? = nil, grpcStatus: Int? = nil, trace: RequestDetail.TraceIDs? = nil,
        responseLimits: RequestDetail.ResponseLimits? = nil
    ) {
        let empty = ByteBuffer()
        (requestHead ?? empty).withUnsafeReadableBytes { request in
            (upstreamHead ?? empty).withUnsafeReadableBytes { upstream in
                (responseHead ?? empty).withUnsafeReadableBytes { response in
                    RequestDetail.encode(
                        requestHead: request, upstreamTarget: Self.requestTarget(upstream),
                        responseHead: Self.headOnly(response), tries: tries, serverPort: serverPort,
                        credentialID: credentialID, correlationID: correlationID, tls: tls, grpcStatus: grpcStatus, trace: trace,
                        responseLimits: responseLimits, into: detailEncoder)
                }
            }
        }
        events.publish(event, detail: detailEncoder.bytes)
    }

    /// The request target in a request line (`GET /path?q HTTP/1.1` → `/path?q`).
    static func requestTarget(_ head: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard let first = head.firstIndex(of: UInt8(ascii: " ")) else { return UnsafeRawBufferPointer(rebasing: head[0..<0]) }
        var end = first + 1
        while end < head.count && head[end] != UInt8(ascii: " ") && head[end] != UInt8(ascii: "\r") { end += 1 }
        return UnsafeRawBufferPointer(rebasing: head[(first + 1)..<end])
    }

    /// The head part of a response buffer: up to and including the empty line.
    static func headOnly(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let limit = min(bytes.count, RequestDetail.maxHeadBytes)
        guard let base = bytes.baseAddress else { return bytes }
        // From line end to line end (memchr), not byte by byte.
        var from = 3
        while from < limit, let found = memchr(base + from, 10, limit - from) {
            let i = base.distance(to: UnsafeRawPointer(found))
            if bytes[i - 1] == 13 && bytes[i - 2] == 10 && bytes[i - 3] == 13 {
                return UnsafeRawBufferPointer(rebasing: bytes[0...i])
            }
            from = i + 1
        }
        return UnsafeRawBufferPointer(rebasing: bytes[0..<limit])
    }

    func register(_ handler: ProxyConnection) {
        connections[ObjectIdentifier(handler)] = handler
        stats.connectionOpened()
    }

    /// A connection registered during a graceful shutdown (a TLS handshake that completed after
    /// it began) drains like the others: answered once, then closed.
    func registeredWhileQuiescing(_ handler: ProxyConnection) {
        if quiescing { handler.quiesce() }
    }

    func unregister(_ handler: ProxyConnection) {
        if connections.removeValue(forKey: ObjectIdentifier(handler)) != nil {
            stats.connectionClosed()
        }
        checkDrained()
    }

    var openConnections: Int { connections.count + http2Sessions.count }

    /// How many of this loop's connections are reading, writing and waiting.
    func connectionStates() -> ConnectionStates {
        var states = ConnectionStates()
        for handler in connections.values {
            switch handler.connectionState {
            case .reading: states.reading += 1
            case .writing: states.writing += 1
            case .waiting: states.waiting += 1
            }
        }
        for session in http2Sessions.values {
            if session.openStreams > 0 { states.writing += 1 } else { states.waiting += 1 }
        }
        return states
    }

    /// Graceful shutdown: idle connections close now, busy ones after their current response.
    /// `drained` runs (on this loop) once the last connection closed.
    func quiesce(drained: @escaping @Sendable () -> Void) {
        quiescing = true
        onDrained = drained
        for handler in connections.values { handler.quiesce() }
        for session in http2Sessions.values { session.quiesce() }
        pool.closeAll()
        checkDrained()
    }

    private var onDrained: (@Sendable () -> Void)?

    func checkDrained() {
        guard quiescing, connections.isEmpty, http2Sessions.isEmpty, let drained = onDrained.take() else { return }
        drained()
    }

    /// End of the drain period: close whatever is left.
    func closeAll() {
        for handler in connections.values { handler.forceClose() }
        for session in http2Sessions.values { session.forceClose() }
        pool.closeAll()
        http2Pool.closeAll()
    }
}

@available(*, unavailable)
extension LoopContext: Sendable {}

/// At most one log line a second for one kind of error (a dead Redis or a failing upstream
/// must not flood the log with one line per request).
struct LogThrottle {
    private var last = NIODeadline.uptimeNanoseconds(0)

    mutating func allows(at now: NIODeadline) -> Bool {
        guard now - last >= .seconds(1) else { return false }
        last = now
        return true
    }
}

/// The TLS versions handshake counters are labelled with.
enum TLSVersionLabel {
    static let all = ["TLSv1.2", "TLSv1.3", "other"]
    static func index(_ version: String) -> Int { all.firstIndex(of: version) ?? all.count - 1 }
}

/// nginx's three states of an open client connection.
enum ConnectionState {
    case reading, writing, waiting
}

/// Open client connections by state (nginx stub_status's Reading, Writing, Waiting).
public struct ConnectionStates: Sendable, Hashable {
    public var reading = 0
    public var writing = 0
    public var waiting = 0
}

/// Counters of one event loop: written only by that loop (relaxed atomics, so no cache line is
/// shared between loops on the request path), read by `/status` and metrics.
final class LoopStats: Sendable {
    private let accepted = ManagedAtomic<Int>(0)
    private let active = ManagedAtomic<Int>(0)
    private let requests = ManagedAtomic<Int>(0)
    /// TLS handshakes completed, by ``TLSVersionLabel`` index.
    let handshakes = (0..<TLSVersionLabel.all.count).map { _ in ManagedAtomic<Int>(0) }
    /// TLS handshakes that did not complete, by `TLSHandshakeFailure.allCases` index.
    let handshakeFailures = (0..<TLSHandshakeFailure.allCases.count).map { _ in ManagedAtomic<Int>(0) }

    /// HTTP/2 connections, streams and defences.
    let http2 = HTTP2Counters()
    /// HTTP/2 towards gRPC upstreams.
    let http2Upstream = HTTP2UpstreamCounters()

    /// Open protocol-upgrade tunnels (WebSocket).
    let tunnels = ManagedAtomic<Int>(0)
    /// PROXY protocol headers read, and connections closed for want of one.
    let proxyProtocolHeaders = ManagedAtomic<Int>(0)
    let proxyProtocolRefusals = ManagedAtomic<Int>(0)

    func proxyProtocolRead() { proxyProtocolHeaders.wrappingIncrement(ordering: .relaxed) }
    func proxyProtocolRefused() { proxyProtocolRefusals.wrappingIncrement(ordering: .relaxed) }

    func tunnelOpened() { tunnels.wrappingIncrement(ordering: .relaxed) }
    func tunnelClosed() { tunnels.wrappingDecrement(ordering: .relaxed) }

    func handshakeCompleted(version: String) {
        handshakes[TLSVersionLabel.index(version)].wrappingIncrement(ordering: .relaxed)
    }

    func handshakeFailed(_ failure: TLSHandshakeFailure) {
        handshakeFailures[TLSHandshakeFailure.allCases.firstIndex(of: failure)!].wrappingIncrement(ordering: .relaxed)
    }

    func connectionOpened() {
        accepted.wrappingIncrement(ordering: .relaxed)
        active.wrappingIncrement(ordering: .relaxed)
    }

    func connectionClosed() {
        active.wrappingDecrement(ordering: .relaxed)
    }

    func requestStarted() {
        requests.wrappingIncrement(ordering: .relaxed)
    }

    var connectionsAccepted: Int { accepted.load(ordering: .relaxed) }
    var connectionsActive: Int { active.load(ordering: .relaxed) }
    var totalRequests: Int { requests.load(ordering: .relaxed) }
}

/// Counters of the proxy listener: the sums over every loop's `LoopStats`.
public final class ProxyStats: Sendable {
    let loops: [LoopStats]

    init(loopCount: Int) {
        loops = (0..<max(1, loopCount)).map { _ in LoopStats() }
    }

    public var connectionsAccepted: Int { loops.reduce(0) { $0 + $1.connectionsAccepted } }
    public var connectionsActive: Int { loops.reduce(0) { $0 + $1.connectionsActive } }
    public var totalRequests: Int { loops.reduce(0) { $0 + $1.totalRequests } }
}
