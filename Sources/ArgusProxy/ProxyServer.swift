import ArgusCache
import ArgusEvents
import ArgusHealth
import ArgusHTTP2
import ArgusLoop
import ArgusRateLimit
import ArgusRedis
import ArgusSnapshot
import ArgusStatistics
import ArgusTransport
import Atomics
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The proxy listener: one `IOLoop` (Argus's own epoll loop) per worker, each with its
/// `LoopContext`; a listener on the first loop hands accepted connections to the loops in turn,
/// each to a `ProxyConnection` bound to that loop's context. Everything a request touches runs on
/// its worker's loop, Redis included; the control plane's loop only sweeps counters.
public final class ProxyServer: ReportsStatistics, Sendable {
    private let loops: [IOLoop]
    private let contexts: [LoopContextBox]
    private let store: SnapshotStore
    private let settings: ProxySettings
    private let logger: Logger
    public let stats: ProxyStats
    /// Every request the proxy handles becomes one `RequestEvent` here (one lane per event loop).
    public let events: EventRing
    private let listeners = NIOLockedValueBox<[TCPListener]>([])
    /// The `local` rate-limiting counters of this node; they survive reloads (a reloaded instance
    /// keeps its counts, as in Kong).
    public let rateLimitCounters = LocalCounterStore()
    /// response-ratelimiting's `local` counters (read by the access phase, added to by the
    /// gateway's `ResponseLimitCounter` from the event ring).
    public let responseCounters = ResponseCounterStore()
    /// The counters of `redis` instances with `sync_rate` (flushed by the gateway's `RateLimitSyncer`).
    public let syncedCounters = SyncedCounterStore()
    /// proxy-cache's store, shared by every loop and instance (the Admin API purges it).
    public let proxyCache: ProxyCacheStore
    private let sweeper: NIOLockedValueBox<RepeatedTask?>
    private let stopped = NIOLockedValueBox(false)

    /// Target health shared with the snapshots' balancers (passive checks report to it).
    public let health: HealthRegistry?

    /// - Parameter controlLoop: a loop of the control plane, for housekeeping (forgetting ended
    ///   rate-limiting windows).
    public init(
        workers: Int, controlLoop: any EventLoop, store: SnapshotStore, settings: ProxySettings, logger: Logger,
        health: HealthRegistry? = nil
    ) {
        self.health = health
        self.store = store
        self.settings = settings
        self.logger = logger
        let loops = (0..<max(1, workers)).map { IOLoop(name: "argus-proxy-\($0)") }
        self.loops = loops
        self.stats = ProxyStats(loopCount: loops.count)
        self.proxyCache = ProxyCacheStore(budget: settings.proxyCacheBytes)
        self.events = EventRing(
            capacity: settings.eventRingCapacity, lanes: max(1, loops.count), detailCapacity: settings.eventDetailCapacity)
        var contexts: [LoopContextBox] = []
        for (index, loop) in loops.enumerated() {
            contexts.append(LoopContextBox(LoopContext(
                eventLoop: loop, store: store, settings: settings, stats: stats.loops[index],
                events: events.producer(lane: index), logger: logger, rateLimitCounters: rateLimitCounters,
                responseCounters: responseCounters, syncedCounters: syncedCounters, health: health, cache: proxyCache)))
        }
        self.contexts = contexts
        // Counters of windows that ended are forgotten every 10 s.
        let counters = rateLimitCounters, responseCounters = responseCounters
        let clock = settings.wallClockMilliseconds
        self.sweeper = NIOLockedValueBox(
            controlLoop.scheduleRepeatedTask(initialDelay: .seconds(10), delay: .seconds(10)) { _ in
                counters.sweep(nowMs: clock())
                responseCounters.sweep(nowMs: clock())
            })
    }

    /// Binds a listener and starts accepting. Returns the bound address (useful with port 0).
    /// `tls`: the listener terminates TLS (Kong's `ssl` flag) with the snapshot's certificates.
    /// `http2`: it speaks HTTP/2 too (Kong's `http2` flag): `h2` by ALPN with TLS, h2c with prior
    /// knowledge without (a connection's first bytes tell which).
    /// `proxyProtocol`: each connection starts with a PROXY protocol header (Kong's `proxy_protocol`
    /// flag), which names the client behind the load balancer.
    public func bind(host: String, port: Int, tls: Bool = false, http2: Bool = false, proxyProtocol: Bool = false) async throws -> SocketAddress {
        let loops = self.loops
        let contexts = self.contexts
        var next = 0
        // The port is known once bound; the handler reads it when connections arrive, after start.
        let boundPort = NIOLockedValueBox(port)
        let listener = try TCPListener(host: host, port: port, loop: loops[0]) { fd in
            // Called on the first loop: connections go to the loops in turn.
            let index = next
            next = (next + 1) % loops.count
            let box = contexts[index]
            let port = boundPort.withLockedValue { $0 }
            let flags = LoopContextBox.Flags(tls: tls, http2: http2, proxyProtocol: proxyProtocol)
            if index == 0 {
                box.adopt(fd, listenerPort: port, flags)
            } else if !loops[index].executeIfRunning({ box.adopt(fd, listenerPort: port, flags) }) {
                _ = Glibc.close(fd)
            }
        }
        boundPort.withLockedValue { $0 = listener.port }
        let bound = listener.port
        do {
            try await loops[0].submit { try listener.start() }.get()
        } catch {
            _ = Glibc.close(listener.fd)
            throw error
        }
        listeners.withLockedValue { $0.append(listener) }
        return try SocketAddress(ipAddress: host, port: bound)
    }

    /// Stops accepting, lets in-flight requests finish for up to `drainTimeout`, then closes the
    /// rest and stops the proxy loops.
    public func shutdown(drainTimeout: TimeAmount) async {
        guard stopped.withLockedValue({ stopped in defer { stopped = true }; return !stopped }) else { return }
        let listening = listeners.withLockedValue { list in
            defer { list.removeAll() }
            return list
        }
        for listener in listening { await listener.loop.perform({ listener.close() }, ifStopped: ()) }
        // Each loop counts down once its last connection closed: the drain ends then, or at the timeout.
        let latch = DrainLatch(count: loops.count)
        await forEachContext { $0.quiesce { latch.countDown() } }
        await withTaskGroup(of: Void.self) { race in
            race.addTask { await latch.wait() }
            race.addTask { try? await Task.sleep(nanoseconds: UInt64(max(0, drainTimeout.nanoseconds))) }
            await race.next()
            race.cancelAll()
        }
        await forEachContext { $0.closeAll() }
        await forEachContext { $0.redis.closeAll() }
        sweeper.withLockedValue { $0?.cancel() }
        for loop in loops { try? await loop.shutdownGracefully() }
    }

    /// Tasks the proxy's loops were handed from other threads so far (thread hops onto the data
    /// path: connections handed out by the listener's loop, the status API counting connections;
    /// a request adds none, a Redis-limited one included).
    public var tasksFromOtherThreads: Int { loops.reduce(0) { $0 + $1.tasksFromOtherThreads } }

    public func statistics() -> [ExporterStatistic] {
        var out = loops.enumerated().map { index, loop in
            ExporterStatistic(
                family: "argus_proxy_loop_hops_total", kind: .counter,
                help: "Tasks handed to a proxy event loop from another thread (a request's own work adds none)",
                labels: [.init("loop", String(index))], value: Double(loop.tasksFromOtherThreads))
        }
        out.append(ExporterStatistic(
            family: "argus_tunnels_open", kind: .gauge,
            help: "Connections switched to another protocol (WebSocket) and tunnelled to their upstream, open now",
            labels: [], value: Double(stats.loops.reduce(0) { $0 + $1.tunnels.load(ordering: .relaxed) })))
        for (i, version) in TLSVersionLabel.all.enumerated() {
            out.append(ExporterStatistic(
                family: "argus_tls_handshakes_total", kind: .counter, help: "TLS handshakes with clients that completed, by protocol version",
                labels: [.init("version", version)],
                value: Double(stats.loops.reduce(0) { $0 + $1.handshakes[i].load(ordering: .relaxed) })))
        }
        for (i, failure) in TLSHandshakeFailure.allCases.enumerated() {
            out.append(ExporterStatistic(
                family: "argus_tls_handshake_failures_total", kind: .counter,
                help: "TLS connections from clients closed before their handshake completed, by reason",
                labels: [.init("reason", failure.rawValue)],
                value: Double(stats.loops.reduce(0) { $0 + $1.handshakeFailures[i].load(ordering: .relaxed) })))
        }
        for (outcome, counter) in [("read", \LoopStats.proxyProtocolHeaders), ("refused", \LoopStats.proxyProtocolRefusals)] {
            out.append(ExporterStatistic(
                family: "argus_proxy_protocol_headers_total", kind: .counter,
                help: "Connections to proxy_protocol listeners by PROXY protocol header: read, or refused (none or a broken one: closed)",
                labels: [.init("outcome", outcome)],
                value: Double(stats.loops.reduce(0) { $0 + $1[keyPath: counter].load(ordering: .relaxed) })))
        }
        out += stats.http2Statistics()
        return out
    }

    /// Open client connections by state, summed over the loops (each loop counts its own, briefly).
    public func connectionStates() async -> ConnectionStates {
        var total = ConnectionStates()
        for (index, loop) in loops.enumerated() {
            let box = contexts[index]
            if let states = await loop.perform({ box.context.connectionStates() }, ifStopped: nil) {
                total.reading += states.reading
                total.writing += states.writing
                total.waiting += states.waiting
            }
        }
        return total
    }

    private func forEachContext(_ body: @escaping @Sendable (LoopContext) -> Void) async {
        for (index, loop) in loops.enumerated() {
            let box = contexts[index]
            await loop.perform({ body(box.context) }, ifStopped: ())
        }
    }
}

/// Counts down the loops still draining; wakes the one waiter when none is left (or when its
/// task is cancelled: the drain timeout won).
final class DrainLatch: Sendable {
    private struct State {
        var remaining: Int
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state: NIOLockedValueBox<State>

    init(count: Int) {
        state = NIOLockedValueBox(State(remaining: count))
    }

    func countDown() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.remaining -= 1
            return state.remaining <= 0 ? state.waiter.take() : nil
        }
        waiter?.resume()
    }

    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let done = state.withLockedValue { state -> Bool in
                    if state.remaining <= 0 || Task.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            state.withLockedValue { $0.waiter.take() }?.resume()
        }
    }
}

/// A loop's context, handed to that loop. `@unchecked Sendable`: the context is made on the
/// thread that builds the server, before its loop runs anything for it; afterwards it is only ever
/// used on that loop (every access goes through the loop's `execute`/`perform`). `NIOLoopBound`
/// would check this, but can only be made on the loop itself.
private final class LoopContextBox: @unchecked Sendable {
    let context: LoopContext
    init(_ context: LoopContext) {
        self.context = context
    }

    /// Takes an accepted connection over, on the context's loop: a plain one goes to its
    /// `ProxyConnection` at once (on an `http2` listener, once its first bytes tell HTTP/1.1 from
    /// the HTTP/2 preface), a TLS one once its handshake is done (to HTTP/2 if ALPN chose `h2`).
    struct Flags: Sendable {
        var tls: Bool
        var http2: Bool
        var proxyProtocol: Bool
    }

    func adopt(_ fd: Int32, listenerPort: Int, _ flags: Flags) {
        let connection = TCPConnection(fd: fd, loop: context.eventLoop)
        guard flags.proxyProtocol else {
            serve(connection, listenerPort: listenerPort, flags, client: nil, first: nil)
            return
        }
        let context = self.context
        let reader = ProxyProtocolReader(tcp: connection) { outcome in
            switch outcome {
            case .read(let source, let first):
                context.stats.proxyProtocolRead()
                let client = ClientFacts(connection.remoteAddress, settings: context.settings, secure: flags.tls, listenerPort: listenerPort)
                    .behindProxyProtocol(source, settings: context.settings)
                self.serve(connection, listenerPort: listenerPort, flags, client: client, first: first)
            case .refused:
                context.stats.proxyProtocolRefused()
            }
        }
        reader.start(timeout: context.settings.clientHeaderTimeout)
    }

    /// Serves an accepted connection: `client`, its facts when a PROXY protocol header changed
    /// them; `first`, bytes read already (after the header).
    private func serve(_ connection: TCPConnection, listenerPort: Int, _ flags: Flags, client: ClientFacts?, first: ByteBuffer?) {
        let context = self.context
        let tls = flags.tls, http2 = flags.http2
        guard tls else {
            guard http2 else {
                let handler = ProxyConnection(loop: context, listenerPort: listenerPort, transport: .plain(connection))
                handler.start(client: client)
                if let first, first.readableBytes > 0 { handler.connection(connection, read: first) }
                return
            }
            let sniffer = PrefaceSniffer(tcp: connection) { outcome in
                switch outcome {
                case .http2(let first):
                    context.startHTTP2(.plain(connection), listenerPort: listenerPort, tls: nil, first: first, client: client)
                case .http1(let first):
                    let handler = ProxyConnection(loop: context, listenerPort: listenerPort, transport: .plain(connection))
                    handler.start(transportStarted: true, client: client)
                    handler.connection(connection, read: first)
                }
            }
            sniffer.start(timeout: context.settings.clientHeaderTimeout)
            if let first, first.readableBytes > 0 { sniffer.connection(connection, read: first) }
            return
        }
        let peer = connection.remoteAddress
        let select: TLSServerHandshake.Select = { hello in
            context.snapshot().certificates.certificate(for: hello).map { ($0, $0.context(for: hello, http2: http2)) }
        }
        let handshake = TLSServerHandshake(tcp: connection, select: select) { outcome in
            switch outcome {
            case .established(let session, let facts):
                context.stats.handshakeCompleted(version: facts.version)
                if facts.alpn == "h2" {
                    context.startHTTP2(.tls(session), listenerPort: listenerPort, tls: facts, first: nil, client: client)
                } else {
                    ProxyConnection(loop: context, listenerPort: listenerPort, transport: .tls(session), tls: facts)
                        .start(transportStarted: true, client: client)
                }
            case .plainHTTP(let tcp, _):
                context.stats.handshakeFailed(.plainHTTP)
                PlainHTTPAnswer.send(on: tcp, serverToken: context.settings.serverToken, date: context.httpDate())
            case .failed(let failure, let detail):
                context.stats.handshakeFailed(failure)
                context.logTLSHandshakeFailure(failure, detail: detail, peer: peer)
            }
        }
        handshake.start(timeout: context.settings.tlsHandshakeTimeout)
        if let first, first.readableBytes > 0 { handshake.connection(connection, read: first) }
    }
}
