import ArgusSnapshot
import ArgusCache
import ArgusEvents
import ArgusHTTP
import ArgusLoop
import ArgusTransport
import Logging
import NIOCore

/// One client connection: the shell around the data path's decisions. It owns the transport,
/// the connection's timer and scratch buffers, and carries out what the state machines decide.
/// A request goes, top to bottom:
///
/// 1. **parse** its head strictly (`RequestHeadParser`; this file): malformed input is answered 4xx
///    and never reaches an upstream; keep-alive and pipelining are `ConnectionStateMachine`'s;
/// 2. **route** it under the current snapshot (`RouteStep`) and run the **access** phase
///    (`AccessPipeline`: authentication, access control, rate limiting, transformers, cache, in
///    Kong's order), which may read the body whole or wait for Redis (`ProxyConnection+Access`);
/// 3. **plan** the upstream request (`UpstreamRequestPlanner`: target, Host, head), **connect**
///    (a pooled connection on this loop, or a new one) and **forward** the body with back-pressure
///    (`ProxyConnection+Upstream`; the request's progress and retry rules are `RequestStateMachine`'s);
/// 4. **relay** the response (`ResponseRelay`), or **answer** for the gateway when anything fails
///    (`ProxyConnection+Answers`), and **publish** the request's one event;
/// 5. **finish**: the upstream connection goes back to the pool, the next request is read.
///
/// Time is one timer per connection whose meaning is `TimeoutPolicy`'s. The client connection
/// and its upstream connection live on one event loop (an `IOLoop`), so all of this is
/// single-threaded code without locks or hops.
final class ProxyConnection: TCPConnectionDelegate, LoopTimerTarget {
    let loop: LoopContext
    let listenerPort: Int
    let transport: Transport
    /// The client's TLS session (nil on a plain connection).
    let tls: TLSSessionFacts?
    let allocator = ByteBufferAllocator()
    let timeouts: TimeoutPolicy

    // The decisions.
    var connection = ConnectionStateMachine()
    var request = RequestStateMachine()
    var access = AccessPipeline()
    var relay: ResponseRelay

    // The request in flight.
    /// Routed, in its access phase or later.
    var routed: RoutedRequest?
    /// Its exchange with the upstream, once planned.
    var exchange: UpstreamExchange?
    /// The upstream connection of the current try.
    var upstream: UpstreamConnection?
    /// What becomes the request's event.
    var trace = RequestTrace()
    /// After a 101 to an upgrade request: the connection is a byte tunnel to `upstream`.
    var tunnel: TunnelState?

    // The connection.
    var inbound = ByteBuffer()
    var parser: RequestHeadParser
    /// The request's client: the connection's peer, or the address a trusted peer's
    /// `real_ip_header` gives (set per request).
    var client = ClientFacts()
    /// The connection's peer.
    var peer = ClientFacts()
    let planner: UpstreamRequestPlanner
    /// `drive` is running: nested calls (from a gateway answer) leave the work to its loop.
    var driving = false
    var timer: LoopTimer?
    var timerDeadline = NIODeadline.distantFuture
    /// Bounds a lingering close.
    var lingerTimer: Scheduled<Void>?
    /// When the client's last bytes arrived.
    var lastActivity = NIODeadline.now()
    /// This connection's number on its loop, and its requests so far (correlation-id's `tracker`).
    var connectionSerial: UInt64 = 0
    var requestsOnConnection = 0
    /// Something was written to the client since the last flush.
    var clientUnflushed = false
    /// Reused storage: the upstream head and plugins' header lines of the previous request.
    var upstreamHeadScratch: ByteBuffer?
    var pluginHeaderScratch: ByteBuffer?

    init(loop: LoopContext, listenerPort: Int, transport: Transport, tls: TLSSessionFacts? = nil) {
        self.loop = loop
        self.listenerPort = listenerPort
        self.transport = transport
        self.tls = tls
        let settings = loop.settings
        self.parser = RequestHeadParser(maxRequestLineLength: settings.maxRequestLineLength, maxHeadLength: settings.maxHeadLength)
        self.timeouts = TimeoutPolicy(clientTimeout: settings.clientIdleTimeout, headerTimeout: settings.clientHeaderTimeout)
        self.relay = ResponseRelay(maxHeldBody: settings.maxBufferedBodySize, maxCachedBody: loop.cache.maxEntryBytes)
        self.planner = UpstreamRequestPlanner(
            connection: .init(listenerPort: listenerPort, viaToken: settings.serverToken, secure: tls != nil))
    }

    /// nginx's connection state, for `kong_nginx_connections_total`.
    var connectionState: ConnectionState { connection.connectionState(buffered: inbound.readableBytes) }

    // MARK: - Lifecycle

    /// Takes the accepted connection over (on its loop); `transportStarted`: it is reading already
    /// (a TLS connection whose handshake is done). `client`: the facts of the connection, when its
    /// session knows them already (an HTTP/2 stream's).
    func start(transportStarted: Bool = false, client known: ClientFacts? = nil) {
        peer = known ?? ClientFacts(transport.remoteAddress, settings: loop.settings, secure: tls != nil, listenerPort: listenerPort)
        client = peer
        loop.connectionSerial &+= 1
        connectionSerial = loop.connectionSerial
        // (a stream's connection is its session, counted, timed and closed there; the request's
        // own timeouts arm the timer when it reaches them)
        if !transport.isStream {
            loop.register(self)
            ensureTimer(lastActivity + loop.settings.clientIdleTimeout)
        }
        transport.setDelegate(self)
        guard !transportStarted else {
            loop.registeredWhileQuiescing(self)
            return
        }
        do {
            try transport.start()
        } catch {
            transport.close()
        }
    }

    func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        if tunnel != nil {
            publishTunnel()
        } else if trace.active {
            // The client went away mid-request: nginx logs that as 499.
            publish(status: 499, source: .gateway, decision: .clientAborted)
        }
        self.connection.closed()
        abandonExchange()
        request.end()
        routed = nil
        if let timer { transport.loop.cancelTimer(timer) }
        timer = nil
        lingerTimer?.cancel()
        lingerTimer = nil
        inbound = ByteBuffer()
        loop.unregister(self)
    }

    /// The client closed its side: as with NIO's default (no half-closure), the connection closes.
    func connectionReadEnded(_ connection: TCPConnection) {
        if tunnel != nil {
            tunnelClientEnded()
            return
        }
        transport.close()
    }

    /// Graceful shutdown: close now if idle, else after the current response.
    func quiesce() {
        if connection.quiesce(buffered: inbound.readableBytes) { transport.close() }
    }

    func forceClose() {
        transport.close()
    }

    // MARK: - 1. Bytes in, heads parsed

    func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        if self.connection.isClosing { return }  // lingering close: dropped
        lastActivity = .now()
        if tunnel != nil {
            tunnelUp(bytes)
            return
        }
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeImmutableBuffer(bytes)
        }
        drive()
        // Let go of a consumed buffer (the loop's read buffer), so that the next read reuses it.
        if inbound.readableBytes == 0 { inbound = ByteBuffer() }
    }

    /// Hands what the client sent to whoever takes it now: the head parser, the request in
    /// flight (its body), or the dropping of an answered request's body.
    func drive() {
        if driving { return }
        driving = true
        defer { driving = false }
        while true {
            switch connection.inboundAction(readable: inbound.readableBytes, clientWritable: transport.isWritable) {
            case .none:
                return
            case .pauseReading:
                pauseReading()
                return
            case .parseHead:
                switch parser.parse(&inbound) {
                case .needMore:
                    if let due = connection.headIncomplete(at: lastActivity, headerTimeout: loop.settings.clientHeaderTimeout) {
                        ensureTimer(due)
                    }
                    return
                case .error(let error):
                    respondAndClose(status: error.status, message: error.reason, decision: .badRequest)
                    return
                case .head(let head):
                    startRequest(head)
                }
            case .request:
                switch request.phase {
                case .forwarding: forwardBody()
                case .readingBody: readBodyForAccess()
                case .idle, .access, .connecting, .awaitingResponse:
                    // Pipelined bytes wait for the current request; stop reading once a head's worth is queued.
                    if inbound.readableBytes > loop.settings.maxHeadLength { pauseReading() }
                    return
                }
                // The body's bytes were taken; if that ended the request (an answer), what follows is next.
                if case .request = connection.state { return }
            case .discard:
                switch connection.discard(&inbound) {
                case nil: return
                case .readNext?: readNextRequest()
                case .close?, .discard?: closeAfterFlush()
                }
            }
        }
    }

    // MARK: - Writing to the client, back-pressure

    func writeToClient(_ bytes: ByteBuffer) {
        transport.write(bytes)
        clientUnflushed = true
    }

    func flushClient() {
        guard clientUnflushed else { return }
        clientUnflushed = false
        transport.flush()
    }

    func pauseReading() {
        transport.setReading(false)
    }

    func resumeReading() {
        transport.setReading(true)
    }

    /// The client took what was queued for it (writes that back up are checked where they are made).
    func connectionBecameWritable(_ connection: TCPConnection) {
        request.clientUnblocked()
        if let upstream {
            upstream.resumeReading()
        } else if case .head = self.connection.state {
            resumeReading()
            drive()
        }
    }

    // MARK: - Time

    /// Arms the connection's one timer for `deadline`, unless it is armed for earlier: re-armed
    /// only when it fires or an earlier deadline appears, so a fast request schedules nothing.
    func ensureTimer(_ deadline: NIODeadline) {
        if timer != nil && timerDeadline <= deadline { return }
        if let timer { transport.loop.cancelTimer(timer) }
        timerDeadline = deadline
        timer = transport.loop.scheduleTimer(deadline: deadline, target: self)
    }

    /// Where the connection is, as far as time goes.
    func timerView() -> TimeoutPolicy.View {
        if let view = connection.timerView(lastActivity: lastActivity) { return view }
        return request.timerView(clientActivity: lastActivity, upstreamRead: upstream?.lastReadAt)
    }

    func loopTimerFired() {
        timer = nil
        if connection.isClosing { return }
        if tunnel != nil {
            tunnelTimerFired()
            return
        }
        let (expired, next) = timeouts.evaluate(timerView(), now: .now())
        if let expired {
            timedOut(expired)
            if connection.isClosing { return }
            if let deadline = timeouts.deadline(timerView()) { ensureTimer(deadline.at) }
        } else if let next {
            ensureTimer(next)
        }
    }

    private func timedOut(_ expiry: TimeoutPolicy.Expiry) {
        switch expiry {
        case .idle, .discardTimeout:
            transport.close()
        case .headerTimeout:
            // A head still incomplete after client_header_timeout, however active the client (slowloris).
            respondAndClose(status: 408, message: "Request timeout", decision: .badRequest)
        case .clientBodyTimeout:
            // The client stopped sending a body: 408 and close, as nginx does.
            connection.closeAfterThisResponse()
            if case .readingBody = request.phase, let routed {
                access.state.bodyRead = true
                answer(GatewayError(status: 408, message: "Request timeout", plainByDefault: false), for: routed.head,
                       requestID: routed.requestID, received: routed.received)
            } else {
                exchangeFailed(.clientBodyTimeout)
            }
        case .sendTimeout:
            // The client does not read the response (nginx send_timeout): the close reports 499.
            abandonExchange()
            transport.close()
        case .upstreamWriteTimeout:
            exchangeFailed(.writeTimeout)
        case .upstreamReadTimeout:
            exchangeFailed(.readTimeout)
        }
    }
}

@available(*, unavailable)
extension ProxyConnection: Sendable {}
