import ArgusAccess
import ArgusCache
import ArgusConfig
import ArgusEvents
import ArgusHealth
import ArgusHTTP
import ArgusRateLimit
import ArgusRedis
import ArgusRouting
import Foundation
import ArgusLoop
import Logging
import NIOCore

/// The data path of one client connection, top to bottom:
///
/// 1. **parse** the request head strictly (`RequestHeadParser`); malformed input is answered 4xx here
///    and never reaches an upstream;
/// 2. **route** it through the current config snapshot's `Router`;
///    **access**: the plugins that may answer before any upstream is involved run in Kong's
///    order: authentication (key-auth, basic-auth) identifies the consumer, ip-restriction and
///    acl admit or refuse, rate limiting checks and counts (locally or in Redis) or answers 429;
/// 3. **pick** the target (service host, or the upstream's balancer) and take a pooled connection
///    on this same event loop, or connect one;
/// 4. **forward** the head (`UpstreamRequestWriter`) and stream the body with back-pressure;
/// 5. **respond**: stream the upstream's response back (`ClientResponseWriter`), or answer with a
///    Kong-style gateway error (`GatewayResponseWriter`) when anything fails, retrying first where
///    Kong would;
/// 6. **finish**: return the upstream connection to the pool and read the next request.
///
/// The client connection and its upstream connection live on one event loop (an `IOLoop`, whose
/// `TCPConnection`s this handler drives directly), so all of this is single-threaded code
/// without locks or hops.
final class ProxyHandler: TCPConnectionDelegate, UpstreamDelegate {
    private enum Phase {
        /// Waiting for (more of) a request head.
        case head
        /// Routed; waiting for an access-phase plugin's answer (a rate-limit check in Redis).
        case access
        /// Routed; waiting for an upstream connection.
        case connecting
        /// Sending the request body upstream.
        case forwarding
        /// Request sent; waiting for the response to finish.
        case awaitingResponse
        /// Reading the whole request body for an access-phase plugin (`remaining` bytes of a
        /// Content-Length body, or -1 for a chunked one).
        case bufferingBody(remaining: Int, decoder: ChunkedDecoder)
        /// Answered by the gateway; reading and dropping the request body to keep the connection usable.
        case discarding(remaining: BodyFraming, decoder: ChunkedDecoder, discarded: Int)
        case closed
    }

    private let loop: LoopContext
    private let listenerPort: Int
    private let connection: TCPConnection
    private let allocator = ByteBufferAllocator()
    private var phase: Phase = .head
    private var inbound = ByteBuffer()
    private var parser: RequestHeadParser
    private var exchange: Exchange?
    private var closeAfterResponse = false
    /// processInbound is running: nested calls (from a gateway answer) leave the work to its loop.
    private var inProcessInbound = false
    /// Since when the upstream's reads are paused because the client does not read (nginx `send_timeout`).
    private var clientBlockedSince: NIODeadline?
    /// Reused head buffers: once the connection has written them out, the next request writes into the same
    /// storage instead of allocating (ByteBuffer is copy-on-write, so reuse is safe either way).
    private var upstreamHeadScratch: ByteBuffer?
    private var responseHeadScratch: ByteBuffer?
    private var pluginHeaderScratch: ByteBuffer?
    /// The client response head, held back until the first body bytes so that a small response
    /// goes out as one buffer (one `write` instead of a `writev`).
    private var pendingResponseHead: ByteBuffer?
    private var clientIP = ""
    private var clientAddress = ConnectionAddress()
    private var peerTrusted = false
    /// The request in flight, for its event.
    private var trace = RequestTrace()
    /// What the access phase learned about the request in flight (its consumer, its edits).
    private var access = AccessState()
    /// The exchange a gateway error is answering for, while that answer is published.
    private var failedExchange: Exchange?
    private var timer: Scheduled<Void>?
    /// Bounds a lingering close (`closeAfterFlush`).
    private var lingerTimer: Scheduled<Void>?
    private var timerDeadline = NIODeadline.distantFuture
    private var lastActivity = NIODeadline.now()
    /// When the first byte of the request head being received arrived (nil between requests).
    private var headStartedAt: NIODeadline?
    /// This connection's number on its loop, and its requests so far (correlation-id's `tracker`).
    private var connectionSerial: UInt64 = 0
    private var requestsOnConnection = 0
    /// A request waiting for another request's fetch of the same proxy-cache key.
    private var cacheWait: Routed?
    /// A request whose body is being read whole for an access-phase plugin, and the bytes so far.
    private var bodyWait: Routed?
    private var bodyBuffer = ByteBuffer()

    init(loop: LoopContext, listenerPort: Int, connection: TCPConnection) {
        self.loop = loop
        self.listenerPort = listenerPort
        self.connection = connection
        self.parser = RequestHeadParser(
            maxRequestLineLength: loop.settings.maxRequestLineLength, maxHeadLength: loop.settings.maxHeadLength)
    }

    /// nginx's connection state, for `kong_nginx_connections_total`: waiting (idle keep-alive),
    /// reading (part of a request head in), writing (a request in progress).
    var connectionState: ConnectionState {
        switch phase {
        case .head: return inbound.readableBytes == 0 ? .waiting : .reading
        case .closed: return .waiting
        default: return .writing
        }
    }

    // MARK: - Connection lifecycle

    /// Takes the accepted connection over (on its loop).
    func start() {
        let remote = connection.remoteAddress
        clientIP = remote?.ipAddress ?? "0.0.0.0"
        clientAddress = ConnectionAddress(remote)
        peerTrusted = loop.settings.trustedIPs.contains(remote)
        loop.connectionSerial &+= 1
        connectionSerial = loop.connectionSerial
        loop.register(self)
        ensureTimer(lastActivity + loop.settings.clientIdleTimeout)
        connection.delegate = self
        do {
            try connection.start()
        } catch {
            connection.close()
        }
    }

    func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        // The client went away mid-request: nginx logs that as 499.
        if trace.active { publish(status: 499, source: .gateway, decision: .clientAborted) }
        phase = .closed
        if let exchange {
            exchange.upstream?.abort()
            self.exchange = nil
        }
        timer?.cancel()
        timer = nil
        lingerTimer?.cancel()
        lingerTimer = nil
        inbound = ByteBuffer()
        loop.unregister(self)
    }

    /// The client closed its side: as with NIO's default (no half-closure), the connection closes.
    func connectionReadEnded(_ connection: TCPConnection) {
        connection.close()
    }

    /// Graceful shutdown: close now if idle, else after the current response.
    func quiesce() {
        closeAfterResponse = true
        if case .head = phase, inbound.readableBytes == 0 { connection.close() }
    }

    func forceClose() {
        connection.close()
    }

    // MARK: - Writing to the client

    /// Something was written to the client since the last flush (a flush with nothing pending is
    /// a pipeline traversal for nothing; several paths end a response with one).
    private var clientUnflushed = false

    private func writeToClient(_ bytes: ByteBuffer) {
        connection.write(bytes)
        clientUnflushed = true
    }

    private func flushClient() {
        guard clientUnflushed else { return }
        clientUnflushed = false
        connection.flush()
    }

    // MARK: - Back-pressure

    private func pauseReading() {
        connection.setReading(false)
    }

    private func resumeReading() {
        connection.setReading(true)
    }

    /// The client took what was queued for it (writes that back up are checked where they are
    /// made: `forwardResponseBody`, `processInbound`).
    func connectionBecameWritable(_ connection: TCPConnection) {
        clientBlockedSince = nil
        if let upstream = exchange?.upstream {
            upstream.resumeReading()
        } else if case .head = phase {
            resumeReading()
            processInbound()
        }
    }

    private func blockOnClient() {
        guard clientBlockedSince == nil else { return }
        let now = NIODeadline.now()
        clientBlockedSince = now
        ensureTimer(now + loop.settings.clientIdleTimeout)
    }

    // MARK: - 1. Parse

    func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        if case .closed = phase { return }  // lingering close: dropped
        lastActivity = .now()
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeImmutableBuffer(bytes)
        }
        processInbound()
        // Nothing to flush here: forwardBody flushes the upstream, and every client write path
        // (finishExchange, respond, the upstream's read-complete) flushes the client itself.
        // Let go of a consumed buffer (the loop's read buffer), so that the next read reuses it.
        if inbound.readableBytes == 0 { inbound = ByteBuffer() }
    }

    private func processInbound() {
        if inProcessInbound { return }
        inProcessInbound = true
        defer { inProcessInbound = false }
        while true {
            switch phase {
            case .head:
                guard inbound.readableBytes > 0 else { return }
                // Gateway answers to pipelined requests must not pile up for a client that does not read.
                guard connection.isWritable else {
                    pauseReading()
                    return
                }
                switch parser.parse(&inbound) {
                case .needMore:
                    if headStartedAt == nil {
                        headStartedAt = lastActivity
                        ensureTimer(lastActivity + loop.settings.clientHeaderTimeout)
                    }
                    return
                case .error(let error):
                    respondToMalformed(error)
                    return
                case .head(let head):
                    headStartedAt = nil
                    startExchange(head)
                }
            case .forwarding:
                forwardBody()
                return
            case .bufferingBody:
                readBufferedBody()
                return
            case .discarding:
                discardBody()
                if case .discarding = phase { return }
            case .access, .connecting, .awaitingResponse:
                // Pipelined bytes wait for the current exchange; stop reading once a head's worth is queued.
                if inbound.readableBytes > loop.settings.maxHeadLength { pauseReading() }
                return
            case .closed:
                return
            }
        }
    }

    // MARK: - 2. Route

    private func startExchange(_ head: RequestHead) {
        let received = lastActivity
        let requestID = loop.nextRequestID()
        loop.stats.requestStarted()
        requestsOnConnection += 1
        let snapshot = loop.snapshot()
        let method = head.methodString
        trace.start(
            receivedAt: received, requestID: requestID, method: RequestMethod(name: method),
            minorVersion: head.minorVersion, headBytes: head.bytes.readableBytes)
        trace.configVersion = UInt32(truncatingIfNeeded: snapshot.version)
        trace.recordsDetail = snapshot.recordsUnmatchedDetail
        access = AccessState()
        guard let path = PathNormalizer.normalize(head.string(head.path)[...]) else {
            respond(.badRequest("Bad request"), head: head, requestID: requestID, received: received)
            return
        }
        let request = RouterRequest(
            method: method, host: head.hostString, port: head.hostPort ?? listenerPort, path: path)
        guard let match = snapshot.router.match(request, headers: head) else {
            respond(.noRoute, head: head, requestID: requestID, received: received)
            return
        }
        trace.route = Int32(truncatingIfNeeded: match.routeIndex)
        trace.recordsDetail = snapshot.routes[match.routeIndex].recordsDetail
        guard let serviceIndex = match.serviceIndex else {
            respond(.noService, head: head, requestID: requestID, received: received)
            return
        }
        trace.service = Int32(truncatingIfNeeded: serviceIndex)
        let routePlan = snapshot.routes[match.routeIndex]
        if !routePlan.allowsHTTP {
            if routePlan.httpsRedirectStatus == 426 || head.host.isEmpty {
                respond(.useHTTPS, head: head, requestID: requestID, received: received)
            } else {
                let location = "https://" + head.hostString + head.string(head.path.lowerBound..<head.query.upperBound)
                respond(.httpsRedirect(status: routePlan.httpsRedirectStatus, location: location), head: head,
                    requestID: requestID, received: received)
            }
            return
        }
        if loop.settings.maxRequestBodySize > 0, case .length(let n) = head.framing, n > loop.settings.maxRequestBodySize {
            respond(.payloadTooLarge, head: head, requestID: requestID, received: received)
            return
        }
        let routed = Routed(
            head: head, requestID: requestID, received: received, match: match, routePlan: routePlan,
            plan: snapshot.services[serviceIndex], serviceID: snapshot.config.services[serviceIndex].id, path: path,
            snapshot: snapshot)
        runAccess(routed)
    }

    /// A routed request on its way through the access phase.
    private struct Routed {
        let head: RequestHead
        let requestID: RequestID
        let received: NIODeadline
        let match: RouteMatch
        let routePlan: RoutePlan
        let plan: ServicePlan
        let serviceID: String
        let path: String
        let snapshot: ConfigSnapshot
    }

    /// What the access phase learned about the request in flight.
    private struct AccessState {
        /// The next step of `routePlan.access` to run.
        var next = 0
        /// The consumer's index in the snapshot's config, -1 when none is known.
        var consumer: Int32 = -1
        /// The credential it authenticated with (nil for none, or the anonymous consumer).
        var credentialID: String?
        /// `X-Credential-Identifier: …` for the upstream.
        var credentialLine: [UInt8]?
        var anonymous = false
        var aclRan = false
        /// The consumer's `X-Consumer-Groups` goes upstream.
        var sendGroups = false
        /// What `hide_credentials` removes from the upstream request.
        var edits = CredentialEdits()
        /// Header lines plugins add to the client response (cors, correlation-id, rate limiting).
        var responseHeaders: ByteBuffer?
        /// correlation-id's value (kept from the request, or generated), for the log record.
        var correlationID: String?
        /// correlation-id's header for the upstream, when the request had none.
        var correlationLine: String?
        /// request-size-limiting's limit on a chunked body.
        var bodyLimit: Int?
        /// consistent-hashing's key (kept for retries).
        var hashKey: String?
        /// request-transformer's changes to the upstream request.
        var rewrite: RequestTransformerPlan.Rewrite?
        /// response-transformer's instance, for the response head.
        var responseTransformer: ResponseTransformerPlan?
        /// proxy-cache's decision for a request that goes upstream (Miss or Refresh).
        var cache: CacheState?
        /// The request body, read whole because a plugin needs it (nil: it streams as usual).
        var body: ByteBuffer?
        var bodyRead = false
        /// The body as `kong.request.get_body()` parses it, once key-auth asked.
        var parsedBody: RequestBody?

        /// Adds response header lines.
        mutating func addResponseHeaders(_ headers: [(String, String)]) {
            guard !headers.isEmpty else { return }
            if responseHeaders == nil { responseHeaders = ByteBuffer() }
            for (name, value) in headers { Self.writeLine(name, value, into: &responseHeaders!) }
        }

        static func writeLine(_ name: String, _ value: String, into out: inout ByteBuffer) {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
    }

    // MARK: - Access phase

    /// Runs the route's access plugins from `access.next` on, in Kong's order; each may identify
    /// the consumer, refuse the request, or (rate limiting in Redis) suspend it and resume here.
    private func runAccess(_ routed: Routed) {
        let steps = routed.routePlan.access
        let catalog = routed.snapshot.access
        while access.next < steps.count {
            let step = steps[access.next]
            access.next += 1
            guard let instance = catalog.instance(step, consumer: access.consumer) else { continue }
            switch instance {
            case .correlationID(let plan, _):
                var id = plan.existing(routed.head)
                if id == nil {
                    // the server address only for `tracker` (formatting it is not free)
                    let serverAddress = plan.generator == .tracker ? connection.localAddress?.ipAddress ?? "" : ""
                    let generated = loop.correlation.next(
                        plan.generator, serverAddress: serverAddress, serverPort: listenerPort,
                        connection: connectionSerial, connectionRequests: requestsOnConnection,
                        nowMs: loop.settings.wallClockMilliseconds())
                    access.correlationLine = "\(plan.headerName): \(generated)\r\n"
                    id = generated
                }
                access.correlationID = id
                if plan.echoDownstream {
                    if access.responseHeaders == nil { access.responseHeaders = responseLinesBuffer() }
                    AccessState.writeLine(plan.headerName, id!, into: &access.responseHeaders!)
                }
            case .cors(let plan, let plugin):
                if plan.isPreflight(routed.head) {
                    if plan.preflightContinue { continue }
                    // Kong answers the preflight itself: 200, no body, the CORS headers.
                    trace.plugin = plugin
                    var answer = GatewayError(status: 200, message: "", plainByDefault: false, headers: plan.preflightHeaders(routed.head))
                    answer.emptyBody = true
                    answer.headerLines = access.responseHeaders.take()
                    answer.decisionOverride = .pluginResponse
                    respond(answer, head: routed.head, requestID: routed.requestID, received: routed.received)
                    return
                }
                if access.responseHeaders == nil { access.responseHeaders = responseLinesBuffer() }
                plan.writeResponseHeaders(routed.head, into: &access.responseHeaders!)
            case .requestSizeLimit(let plan, let plugin):
                if let rejection = plan.check(routed.head) {
                    refuse(rejection, plugin: plugin, routed, decision: .badRequest)
                    return
                }
                if case .chunked = routed.head.framing { access.bodyLimit = plan.allowedBytes }
            case .jwt(let plan, let plugin):
                let outcome = plan.authenticate(
                    routed.head, directory: catalog.directory, alreadyAuthenticated: access.credentialID != nil,
                    nowSeconds: Double(loop.settings.wallClockMilliseconds()) / 1000)
                guard authenticated(outcome, plugin: plugin, routed) else { return }
            case .keyAuth(let plan, let plugin):
                if plan.needsBody(routed.head) {
                    guard access.bodyRead else { return startReadingBody(routed) }
                    if access.parsedBody == nil, let body = access.body,
                       let kind = RequestBody.kind(contentType: routed.head.values(forLowercasedName: "content-type").first) {
                        access.parsedBody = RequestBody.parse(body, kind: kind)
                    }
                }
                let outcome = plan.authenticate(
                    routed.head, directory: catalog.directory, alreadyAuthenticated: access.credentialID != nil, edits: &access.edits,
                    body: access.parsedBody)
                guard authenticated(outcome, plugin: plugin, routed) else { return }
            case .basicAuth(let plan, let plugin):
                let outcome = plan.authenticate(
                    routed.head, directory: catalog.directory, alreadyAuthenticated: access.credentialID != nil, edits: &access.edits)
                guard authenticated(outcome, plugin: plugin, routed) else { return }
            case .ipRestriction(let plan, let plugin):
                let client = forwardedClient(routed.head)
                if let rejection = plan.check(address: client.bytes, text: client.text) {
                    refuse(rejection, plugin: plugin, routed)
                    return
                }
            case .acl(let plan, let plugin):
                access.aclRan = true
                switch plan.check(consumer: access.consumer, directory: catalog.directory) {
                case .allowed(let sendGroups):
                    access.sendGroups = sendGroups
                case .rejected(let rejection):
                    refuse(rejection, plugin: plugin, routed)
                    return
                }
            case .requestTransformer(let plan):
                if plan.needsBody(routed.head) {
                    guard access.bodyRead else { return startReadingBody(routed) }
                    if let body = access.body, let transformed = plan.transformBody(body, head: routed.head, captures: routed.match.captures) {
                        access.body = ByteBuffer(bytes: transformed)
                        access.parsedBody = nil
                    }
                }
                access.rewrite = plan.rewrite(routed.head, captures: routed.match.captures)
            case .responseTransformer(let plan):
                // Applied to the upstream's response head (Kong's header_filter).
                access.responseTransformer = plan
            case .rateLimit(let limiter):
                // Continues with runAccess, or answers.
                checkRateLimit(limiter, routed)
                return
            case .proxyCache(let plan, let plugin):
                if lookUpCache(plan, plugin: plugin, routed) { return }
            }
        }
        proceed(routed)
    }

    /// A buffer for plugins' response header lines: the previous response's, when the connection is done with it.
    private func responseLinesBuffer() -> ByteBuffer {
        guard var buffer = pluginHeaderScratch.take() else { return allocator.buffer(capacity: 256) }
        buffer.clear()
        return buffer
    }

    // MARK: - Access: reading the body

    /// A plugin needs the whole request body: read it (bounded by `maxBufferedBodySize`), then
    /// run the same step again.
    private func startReadingBody(_ routed: Routed) {
        access.next -= 1
        let head = routed.head
        let remaining: Int
        switch head.framing {
        case .length(let n):
            guard n <= loop.settings.maxBufferedBodySize else {
                closeAfterResponse = true
                respond(.payloadTooLarge, head: head, requestID: routed.requestID, received: routed.received)
                return
            }
            remaining = n
        case .chunked:
            remaining = -1
        case .none, .untilClose:
            access.body = ByteBuffer()
            access.bodyRead = true
            runAccess(routed)
            return
        }
        bodyWait = routed
        bodyBuffer = allocator.buffer(capacity: max(0, min(remaining, 1 << 16)))
        phase = .bufferingBody(remaining: remaining, decoder: ChunkedDecoder())
        if head.expectContinue {
            connection.writeAndFlush(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n"))
        }
        ensureTimer(lastActivity + loop.settings.clientIdleTimeout)
        readBufferedBody()
    }

    /// Moves body bytes from the connection into `bodyBuffer`; once the body is whole, the access
    /// phase goes on with it.
    private func readBufferedBody() {
        guard case .bufferingBody(var remaining, var decoder) = phase, let routed = bodyWait else { return }
        let limit = loop.settings.maxBufferedBodySize
        if remaining >= 0 {
            let take = min(remaining, inbound.readableBytes)
            if take > 0, var slice = inbound.readSlice(length: take) {
                bodyBuffer.writeBuffer(&slice)
                trace.requestBytes += take
                remaining -= take
            }
            if remaining > 0 {
                phase = .bufferingBody(remaining: remaining, decoder: decoder)
                return
            }
        } else {
            var tooLarge = false
            var buffer = bodyBuffer
            var received = 0
            do {
                try decoder.decode(&inbound) { slice in
                    if buffer.readableBytes + slice.readableBytes > limit { tooLarge = true }
                    if tooLarge { return }
                    received += slice.readableBytes
                    buffer.writeImmutableBuffer(slice)
                }
            } catch {
                bodyWait = nil
                access.bodyRead = true  // what is left of it is not read: the connection closes
                closeAfterResponse = true
                respond(.badRequest("Bad request"), head: routed.head, requestID: routed.requestID, received: routed.received)
                return
            }
            trace.requestBytes += received
            bodyBuffer = buffer
            if tooLarge {
                bodyWait = nil
                access.bodyRead = true
                closeAfterResponse = true
                respond(.payloadTooLarge, head: routed.head, requestID: routed.requestID, received: routed.received)
                return
            }
            guard decoder.isComplete else {
                phase = .bufferingBody(remaining: -1, decoder: decoder)
                return
            }
        }
        bodyWait = nil
        access.body = bodyBuffer
        access.bodyRead = true
        bodyBuffer = ByteBuffer()
        phase = .access
        runAccess(routed)
    }

    // MARK: - Access: proxy-cache

    /// Answers from the cache (true), or waits for another request's fetch of the same key (true;
    /// the step runs again when it ends), or lets the request go upstream (false), marked to be
    /// stored when it is a Miss or a Refresh.
    private func lookUpCache(_ plan: ProxyCachePlan, plugin: Int16, _ routed: Routed) -> Bool {
        let control = plan.cacheControl ? CacheControl(routed.head.values(forLowercasedName: "cache-control")) : CacheControl([])
        guard plan.isCacheable(routed.head, control) else {
            trace.flags.cacheStatus = ProxyCachePlan.Status.bypass.rawValue
            if plan.sendStatus { access.addResponseHeaders([("X-Cache-Status", "Bypass")]) }
            return false
        }
        let config = routed.snapshot.config
        let consumerID = access.consumer >= 0 ? config.consumers[Int(access.consumer)].id : nil
        let key = plan.key(routed.head, consumerID: consumerID, routeID: config.routes[routed.match.routeIndex].id)
        let now = Double(loop.settings.wallClockMilliseconds()) / 1000
        var status = ProxyCachePlan.Status.miss
        if let entry = loop.cache.lookup(key, now: now) {
            if plan.isFresh(entry, request: control, now: now) {
                serveFromCache(entry, plan: plan, plugin: plugin, routed, now: now)
                return true
            }
            status = .refresh
        } else if plan.cacheControl, control.has("only-if-cached") {
            // RFC 9111 §5.2.1.7: nothing stored, and the client wants nothing else.
            trace.plugin = plugin
            var answer = GatewayError(status: 504, message: "", plainByDefault: false)
            answer.emptyBody = true
            answer.decisionOverride = .pluginResponse
            respond(answer, head: routed.head, requestID: routed.requestID, received: routed.received)
            return true
        }
        let eventLoop = connection.loop
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let fetcher = loop.cache.beginFetch(key) { eventLoop.execute { bound.value.cacheFetchEnded() } }
        guard fetcher else {
            access.next -= 1
            cacheWait = routed
            phase = .access
            return true
        }
        trace.flags.cacheStatus = status.rawValue
        access.cache = CacheState(plan: plan, key: key, status: status, fetch: CacheFetch(key: key, store: loop.cache))
        return false
    }

    /// The fetch this request waited for is over: look in the cache again.
    private func cacheFetchEnded() {
        guard case .access = phase, let routed = cacheWait.take() else { return }
        runAccess(routed)
    }

    /// A cache hit: the stored response through the same writer as a live one (hop-by-hop headers
    /// dropped, this request's plugin headers added), with `Age`, `X-Cache-Status: Hit` and
    /// `X-Cache-Key`.
    private func serveFromCache(_ entry: CachedResponse, plan: ProxyCachePlan, plugin: Int16, _ routed: Routed, now: Double) {
        let head = routed.head
        trace.plugin = plugin
        trace.flags.cacheStatus = ProxyCachePlan.Status.hit.rawValue
        var lines = access.responseHeaders.take() ?? allocator.buffer(capacity: 128)
        if plan.sendAge { lines.writeString("Age: \(entry.age(now: now))\r\n") }
        if plan.sendStatus { lines.writeStaticString("X-Cache-Status: Hit\r\n") }
        if plan.sendKey { lines.writeString("X-Cache-Key: \(entry.key)\r\n") }
        if !head.keepAlive { closeAfterResponse = true }
        if case .length(let n) = head.framing, n > 1 << 20 { closeAfterResponse = true }
        if head.expectContinue, head.framing != .none { closeAfterResponse = true }
        let answeredAt = NIODeadline.now()
        let transformer = access.responseTransformer
        var body = entry.body
        if let transformer, !entry.isHEAD, transformer.wantsBody(entry.head), let transformed = transformer.transformJSON(body) {
            body = ByteBuffer(bytes: transformed)
        }
        var out = allocator.buffer(capacity: entry.head.bytes.readableBytes + body.readableBytes + 256)
        ClientResponseWriter.write(
            entry.head,
            .init(
                framing: .passthrough, keepAlive: !closeAfterResponse, clientMinorVersion: head.minorVersion,
                serverToken: loop.settings.serverToken, upstreamLatencyMs: 0,
                proxyLatencyMs: Int((answeredAt - routed.received).nanoseconds / 1_000_000), requestID: routed.requestID,
                pluginHeaders: lines, dropHeaders: transformer?.touched, transformedLines: transformer?.lines(for: entry.head),
                fromCache: true, bodyLength: entry.isHEAD ? nil : body.readableBytes),
            into: &out)
        let headOnly = out
        if !head.isHEAD && !entry.isHEAD { out.writeImmutableBuffer(body) }
        trace.responseBytes += out.readableBytes
        // Kong counts a cache hit as `source="service"` (the plugin marks the request proxied).
        publish(status: entry.head.status, source: .upstream, decision: .cacheHit, at: answeredAt, requestHead: head, responseHead: headOnly)
        writeToClient(out)
        finishGatewayAnswer(bodyPending: access.bodyRead ? .none : head.framing)
    }

    /// The client's address as Kong's plugins see it (nginx's realip module with Kong's defaults):
    /// the peer's, or `X-Real-IP` when the peer is in `trusted_ips`.
    private func forwardedClient(_ head: RequestHead) -> (text: String, bytes: [UInt8]) {
        if peerTrusted, let value = head.values(forLowercasedName: "x-real-ip").first, let bytes = IPAddressParser.parse(value) {
            return (value, bytes)
        }
        return (clientIP, clientAddress.address.bytes)
    }

    /// Applies an authentication plugin's outcome; false when it refused the request (answered).
    private func authenticated(_ outcome: AuthOutcome, plugin: Int16, _ routed: Routed) -> Bool {
        switch outcome {
        case .skipped:
            return true
        case .authenticated(let identity):
            access.consumer = identity.consumer
            access.credentialID = identity.credentialID
            access.credentialLine = identity.identifierLine
            access.anonymous = false
        case .anonymous(let consumer):
            access.consumer = consumer
            access.credentialID = nil
            access.credentialLine = nil
            access.anonymous = true
        case .rejected(let rejection):
            refuse(rejection, plugin: plugin, routed)
            return false
        }
        trace.consumer = access.consumer
        return true
    }

    /// Answers with an access plugin's rejection (Kong's `kong.response.error`). The decision is
    /// `auth_failed` for a 4xx unless given (a misconfiguration's 500 is `plugin_response`).
    private func refuse(_ rejection: AccessRejection, plugin: Int16, _ routed: Routed, decision: RequestDecision? = nil) {
        trace.plugin = plugin
        trace.reason = rejection.reason
        var error = GatewayError(status: rejection.status, message: rejection.message, plainByDefault: false, headers: rejection.headers)
        error.exitBody = rejection.exitBody
        error.headerLines = access.responseHeaders.take()
        error.decisionOverride = decision ?? (rejection.status < 500 ? .authFailed : .pluginResponse)
        respond(error, head: routed.head, requestID: routed.requestID, received: routed.received)
    }

    // MARK: - Access: rate limiting

    /// Kong's rate-limiting access handler: count the request in every configured window and
    /// admit it, or answer `error_code` with Kong's headers. A local check is synchronous; a Redis
    /// one suspends the request (the connection reads nothing more meanwhile) until its reply.
    private func checkRateLimit(_ limiter: RateLimitPlan, _ routed: Routed) {
        let head = routed.head
        let consumers = routed.snapshot.access.directory.consumers
        let consumerID = access.consumer >= 0 && Int(access.consumer) < consumers.count ? consumers[Int(access.consumer)].id : nil
        let identifier = limiter.identifier(
            consumerID: consumerID, credentialID: access.credentialID, serviceID: routed.serviceID,
            header: { head.values(forLowercasedName: $0).first }, path: routed.path[...], clientIP: forwardedClient(head).text)
        let nowMs = loop.settings.wallClockMilliseconds()
        let settings = limiter.settings
        guard settings.policy == .redis else {
            let usage = loop.rateLimitCounters.check(
                scope: limiter.scope, identifier: identifier, limits: settings.limits, algorithm: settings.algorithm, nowMs: nowMs)
            rateLimitDecided(limiter, .success(usage), routed)
            return
        }
        guard let endpoint = settings.redis else {
            rateLimitDecided(limiter, .failure(RedisError.unavailable("no redis host configured")), routed)
            return
        }
        if settings.syncRate != nil {
            // Counted locally against the last synced totals; the gateway's syncer talks to Redis.
            rateLimitDecided(limiter, .success(loop.syncedCounters.check(limiter, identifier: identifier, nowMs: nowMs)), routed)
            return
        }
        phase = .access
        let requestID = routed.requestID
        // The Redis clients live on this loop's companion NIO loop; the answer hops back here.
        let redis = loop.redis
        redis.eventLoop.flatSubmit {
            RedisRateLimit.check(limiter, identifier: identifier, nowMs: nowMs, client: redis.client(endpoint))
        }
            .hop(to: connection.loop).assumeIsolated().whenComplete { result in
                // The client may have gone (or the connection closed) meanwhile.
                guard case .access = self.phase, self.trace.active, self.trace.requestID == requestID else { return }
                self.rateLimitDecided(limiter, result, routed)
                if case .head = self.phase { return }
                self.processInbound()
            }
    }

    private func rateLimitDecided(_ limiter: RateLimitPlan, _ result: Result<RateLimitUsage, any Error>, _ routed: Routed) {
        let settings = limiter.settings
        switch result {
        case .success(let usage):
            var lines = pluginHeaderScratch.take() ?? allocator.buffer(capacity: 256)
            lines.clear()
            usage.writeHeaders(settings, into: &lines)
            if usage.admitted {
                if lines.readableBytes > 0 {
                    if access.responseHeaders == nil { access.responseHeaders = lines } else { access.responseHeaders!.writeImmutableBuffer(lines) }
                }
                runAccess(routed)
                return
            }
            trace.plugin = Int16(clamping: limiter.pluginIndex)
            trace.reason = UInt8(truncatingIfNeeded: usage.stop?.rawValue ?? 0)
            var error = GatewayError(status: settings.errorCode, message: settings.errorMessage, plainByDefault: false)
            if var earlier = access.responseHeaders.take() {
                earlier.writeImmutableBuffer(lines)
                error.headerLines = earlier
            } else {
                error.headerLines = lines
            }
            error.decisionOverride = .rateLimited
            respond(error, head: routed.head, requestID: routed.requestID, received: routed.received)
        case .failure(let error):
            trace.flags.insert(.rateLimitStoreError)
            trace.plugin = Int16(clamping: limiter.pluginIndex)
            let now = NIODeadline.now()
            if now - loop.lastStoreErrorLog >= .seconds(1) {
                loop.lastStoreErrorLog = now
                loop.logger.error(
                    "rate-limiting: failed to get usage",
                    metadata: ["error": "\(error)", "fault_tolerant": "\(settings.faultTolerant)"])
            }
            if settings.faultTolerant {
                runAccess(routed)
            } else {
                respond(.internalError, head: routed.head, requestID: routed.requestID, received: routed.received)
            }
        }
    }

    // MARK: - 3. Pick the target

    private func proceed(_ routed: Routed) {
        let head = routed.head, requestID = routed.requestID, received = routed.received
        let match = routed.match, routePlan = routed.routePlan, plan = routed.plan
        var target = plan.directTarget
        var targetName: String?
        var targetHealth: TargetHealth?
        var pickIndex = -1
        if let balancer = plan.balancer {
            let key = balancer.algorithm == .consistentHashing ? hashKey(balancer.upstream, routed) : nil
            guard let picked = balancer.next(hashKey: key) else {
                respond(.noPeer, head: head, requestID: requestID, received: received)
                return
            }
            target = picked.target
            targetName = picked.name
            targetHealth = balancer.health.passiveEnabled ? picked.health : nil
            pickIndex = picked.index
        }
        let pluginHeaders = access.responseHeaders.take()

        var upstreamHead = upstreamHeadScratch.take() ?? allocator.buffer(capacity: head.bytes.readableBytes + 512)
        upstreamHead.clear()
        let hostHeader: String
        // The Host follows the picked target (Kong's upstream_host): a retry to another target writes the head again.
        var hostFollowsTarget = false
        if let host = access.rewrite?.host {
            hostHeader = host
        } else if routePlan.preserveHost, head.host.count > 0 {
            // The validated authority the request was routed by (an absolute-form target wins over Host).
            hostHeader = head.hostPort.map { "\(head.hostString):\($0)" } ?? head.hostString
        } else {
            hostHeader = plan.hostHeader(for: target, name: targetName)
            hostFollowsTarget = plan.balancer != nil && plan.balancer?.upstream.hostHeader == nil
        }
        let writing = UpstreamRequestWriter.Context(
            upstreamPath: access.rewrite?.uri ?? match.upstreamPath, hostHeader: hostHeader, clientIP: clientIP, peerTrusted: peerTrusted,
            listenerPort: listenerPort, strippedPrefix: match.strippedPrefix, requestID: requestID,
            viaToken: loop.settings.serverToken, edits: routePlan.editsUpstream || access.bodyRead ? upstreamEdits(routed) : nil)
        UpstreamRequestWriter.write(head, writing, into: &upstreamHead)

        let exchange = Exchange(
            head: head, requestID: requestID, received: received, plan: plan, upstreamHead: upstreamHead, target: target)
        if hostFollowsTarget { exchange.headWriting = writing }
        exchange.recordsDetail = routePlan.recordsDetail
        exchange.tls = plan.tls(hostHeader: hostHeader)
        exchange.targetHealth = targetHealth
        exchange.pickIndex = pickIndex
        exchange.hashKey = access.hashKey
        exchange.responseTransformer = access.responseTransformer
        exchange.pluginHeaders = pluginHeaders
        exchange.cache = access.cache.take()
        if access.bodyRead, let body = access.body.take() {
            exchange.bufferedBody = body
            exchange.requestComplete = false
        }
        exchange.bodyLimit = access.bodyLimit
        self.exchange = exchange
        if !head.keepAlive { closeAfterResponse = true }
        // (a body a plugin read whole got its 100 Continue then)
        if head.expectContinue && exchange.bufferedBody == nil {
            connection.writeAndFlush(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n"))
        }
        phase = .connecting
        connectUpstream(exchange)
    }

    /// consistent-hashing's key: what `hash_on` names, else what `hash_fallback` names; nil when
    /// neither gives a value (the pick is then round-robin). A `cookie` that is missing is created
    /// and set on the response, so the client sticks from its next request on.
    private func hashKey(_ upstream: Upstream, _ routed: Routed) -> String? {
        let head = routed.head
        func value(_ kind: String, header: String?, query: String?, capture: String?) -> String? {
            switch kind {
            case "consumer":
                let consumers = routed.snapshot.access.directory.consumers
                if access.consumer >= 0 && Int(access.consumer) < consumers.count { return consumers[Int(access.consumer)].id }
                return access.credentialID
            case "ip": return forwardedClient(head).text
            case "header": return header.flatMap { head.values(forLowercasedName: $0.lowercased()).joined(separator: ",").nilIfEmpty }
            case "path": return routed.path
            case "query_arg":
                return query.flatMap { QueryString(head.string(head.query)[...]).values(named: $0).joined(separator: ",").nilIfEmpty }
            case "uri_capture": return capture.flatMap { routed.match.captures[$0] }
            case "cookie":
                guard let name = upstream.hashOnCookie else { return nil }
                for header in head.values(forLowercasedName: "cookie") {
                    for pair in header.split(separator: ";") {
                        let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                        if kv.count == 2, kv[0] == name, !kv[1].isEmpty { return kv[1] }
                    }
                }
                let created = UUID().uuidString.lowercased()
                access.addResponseHeaders([("Set-Cookie", "\(name)=\(created); Path=\(upstream.hashOnCookiePath); SameSite=Lax; HttpOnly")])
                return created
            default: return nil
            }
        }
        let key = value(upstream.hashOn, header: upstream.hashOnHeader, query: upstream.hashOnQueryArg, capture: upstream.hashOnURICapture)
            ?? value(upstream.hashFallback, header: upstream.hashFallbackHeader, query: upstream.hashFallbackQueryArg,
                     capture: upstream.hashFallbackURICapture)
        access.hashKey = key
        return key
    }

    /// The consumer headers (Kong's `X-Consumer-*`) and what `hide_credentials` removes. Headers of
    /// those names a client sent are dropped whenever an authentication plugin runs.
    private func upstreamEdits(_ routed: Routed) -> UpstreamRequestWriter.Edits {
        typealias Edits = UpstreamRequestWriter.Edits
        var edits = Edits()
        if routed.routePlan.authenticates {
            edits.removeHeaders = access.aclRan ? Edits.consumerAndGroupHeaders : Edits.consumerHeaders
        } else if access.aclRan {
            edits.removeHeaders = ["x-consumer-groups"]
        }
        if !access.edits.headers.isEmpty { edits.removeHeaders += access.edits.headers }
        let directory = routed.snapshot.access.directory
        if access.consumer >= 0 && Int(access.consumer) < directory.consumers.count {
            edits.consumerLines = directory.consumerLines[Int(access.consumer)]
            if access.sendGroups { edits.groupsLine = directory.groupsLines[Int(access.consumer)] }
        }
        edits.credentialLine = access.credentialLine
        edits.anonymous = access.anonymous
        edits.correlationLine = access.correlationLine
        if let rewrite = access.rewrite {
            edits.removeHeaders += rewrite.removeHeaders
            edits.extraLines = rewrite.headerLines
            edits.method = rewrite.method
            if let query = rewrite.query { edits.query = query }
        }
        if !access.edits.query.isEmpty {
            edits.query = QueryString(routed.head.string(routed.head.query)[...]).removing(access.edits.query)
        }
        if access.bodyRead, var body = access.body {
            // key-auth's hide_credentials took the key from the body
            if !access.edits.body.isEmpty,
               let kind = RequestBody.kind(contentType: routed.head.values(forLowercasedName: "content-type").first),
               let parsed = RequestBody.parse(body, kind: kind) {
                body = ByteBuffer(bytes: parsed.removing(access.edits.body).serialized())
                access.body = body
            }
            edits.bodyLength = body.readableBytes
        }
        return edits
    }

    // MARK: - 3. Connect

    private func connectUpstream(_ exchange: Exchange) {
        exchange.tries += 1
        trace.tries = UInt8(clamping: exchange.tries)
        if exchange.recordsDetail {
            exchange.tryLog.append(.init(host: exchange.target.host, port: exchange.target.port, startedAt: lastActivity.uptimeNanoseconds))
        }
        let key = exchange.connectionKey
        if let pooled = loop.pool.take(key) {
            attach(pooled, to: exchange, now: lastActivity)
            return
        }
        let timeout = exchange.plan.connectTimeout
        loop.pool.connect(key, timeout: timeout).assumeIsolated().whenComplete { result in
            guard self.exchange === exchange else {
                if case .success(let handler) = result { handler.abort() }
                return
            }
            switch result {
            case .success(let handler):
                self.attach(handler, to: exchange, now: .now())
            case .failure(let error):
                if error is NameResolutionError {
                    self.failExchange(exchange, .nameResolutionFailed)
                    return
                }
                var timedOut = false
                if case .connectTimeout = error as? ChannelError { timedOut = true }
                self.retryOrFail(exchange, timedOut: timedOut)
            }
        }
    }

    private func attach(_ upstream: UpstreamConnection, to exchange: Exchange, now: NIODeadline) {
        exchange.upstream = upstream
        upstream.begin(delegate: self, isHEAD: exchange.head.isHEAD)
        upstream.write(exchange.upstreamHead)
        exchange.headSentAt = now
        exchange.lastUpstreamActivity = now
        trace.sentAt = now
        ensureTimer(now + exchange.plan.readTimeout)
        phase = .forwarding
        forwardBody()
        resumeReading()
    }

    // MARK: - 4. Forward the body

    private func forwardBody() {
        guard let exchange, let upstream = exchange.upstream else { return }
        if !exchange.requestComplete, let body = exchange.bufferedBody {
            // read whole in the access phase: one write, every try
            upstream.write(body)
            exchange.requestComplete = true
        } else if !exchange.requestComplete {
            switch exchange.requestFraming {
            case .length(let remaining):
                let take = min(remaining, inbound.readableBytes)
                if take > 0 {
                    trace.requestBytes += take
                    upstream.write(inbound.readSlice(length: take)!)
                    exchange.bodyConsumed = true
                    exchange.requestFraming = .length(remaining - take)
                    if remaining == take { exchange.requestComplete = true }
                }
            case .chunked:
                do {
                    var overLimit = false
                    try exchange.chunkedDecoder.decode(&inbound) { slice in
                        trace.requestBytes += slice.readableBytes
                        exchange.bodyForwarded += slice.readableBytes
                        if let limit = exchange.bodyLimit, exchange.bodyForwarded > limit { overLimit = true }
                        if overLimit { return }
                        var header = allocator.buffer(capacity: 12)
                        ChunkedEncoder.writeChunkHeader(slice.readableBytes, into: &header)
                        upstream.write(header)
                        upstream.write(slice)
                        upstream.write(ByteBuffer(staticString: "\r\n"))
                        exchange.bodyConsumed = true
                    }
                    if overLimit { throw BodyLimitExceeded() }
                } catch {
                    // The client's chunked body is malformed, or larger than request-size-limiting
                    // allows: the upstream request is abandoned.
                    upstream.abort()
                    exchange.upstream = nil
                    closeAfterResponse = true
                    if error is BodyLimitExceeded, !exchange.responseStarted {
                        self.exchange = nil
                        var tooLarge = GatewayError(status: 413, message: RequestSizeLimitPlan.tooLarge, plainByDefault: false)
                        tooLarge.decisionOverride = .badRequest
                        respond(tooLarge, head: exchange.head, requestID: exchange.requestID, received: exchange.received, bodyPending: false)
                        return
                    }
                    if exchange.responseStarted {
                        publish(status: exchange.status, source: .upstream, decision: .badRequest)
                        self.exchange = nil
                        connection.close()
                        return
                    }
                    respond(
                        .badRequest("Bad request"), head: exchange.head, requestID: exchange.requestID,
                        received: exchange.received, bodyPending: false)
                    return
                }
                if exchange.chunkedDecoder.isComplete {
                    upstream.write(ByteBuffer(staticString: ChunkedEncoder.lastChunk))
                    exchange.requestComplete = true
                }
            case .none, .untilClose:
                exchange.requestComplete = true
            }
        }
        upstream.flush()
        // A flush that failed at once may have ended this try (and started another) re-entrantly.
        guard self.exchange === exchange, exchange.upstream === upstream else { return }
        if exchange.requestComplete {
            if case .forwarding = phase {
                phase = .awaitingResponse
                // nginx's proxy_read_timeout runs from the moment the request is sent.
                exchange.lastUpstreamActivity = max(exchange.lastUpstreamActivity, lastActivity)
            }
        } else if !upstream.isWritable {
            pauseReading()
            let now = NIODeadline.now()
            exchange.writeBlockedSince = now
            ensureTimer(now + exchange.plan.writeTimeout)
        }
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        guard let exchange else { return }
        if isWritable {
            exchange.writeBlockedSince = nil
            if case .forwarding = phase {
                resumeReading()
                forwardBody()
            }
        } else if case .forwarding = phase {
            let now = NIODeadline.now()
            exchange.writeBlockedSince = now
            ensureTimer(now + exchange.plan.writeTimeout)
            pauseReading()
        }
    }

    // MARK: - 5. Respond

    func upstreamResponseHead(_ head: ResponseHead) {
        guard let exchange, let upstream = exchange.upstream else { return }
        let now = upstream.lastReadAt
        trace.firstByteAt = now
        exchange.responseStarted = true
        exchange.status = head.status
        if let balancer = exchange.plan.balancer, balancer.algorithm == .latency, let sent = exchange.headSentAt {
            balancer.observe(exchange.pickIndex, micros: Int((now - sent).nanoseconds / 1000))
        }
        // Passive health checks (the circuit breaker) judge every try by its status.
        if let health = exchange.targetHealth, let balancer = exchange.plan.balancer {
            loop.health?.report(.status(head.status), for: health, balancer.health.passive, check: "passive")
        }
        if exchange.cache != nil { decideCacheStorage(exchange, head) }
        if let transformer = exchange.responseTransformer, !exchange.head.isHEAD, head.framing != .none, transformer.wantsBody(head) {
            // response-transformer's JSON operations: the head waits for the whole body
            exchange.heldResponse = (head, ByteBuffer())
            return
        }
        writeResponseHead(exchange, head)
    }

    /// Writes (holds back until the first body bytes) the client's response head for `head`;
    /// `bodyLength` when the body is written whole with that length (a transformed body).
    private func writeResponseHead(_ exchange: Exchange, _ head: ResponseHead, bodyLength: Int? = nil) {
        let now = exchange.upstream?.lastReadAt ?? trace.firstByteAt ?? .now()
        let clientVersion = exchange.head.minorVersion
        let framing = bodyLength != nil ? .passthrough : ClientResponseWriter.framing(for: head.framing, clientMinorVersion: clientVersion)
        exchange.responseFraming = framing
        if framing == .untilClose { closeAfterResponse = true }
        let sentAt = exchange.headSentAt ?? exchange.received
        var out = responseHeadScratch.take() ?? allocator.buffer(capacity: head.bytes.readableBytes + 256)
        out.clear()
        ClientResponseWriter.write(
            head,
            .init(
                framing: framing, keepAlive: !closeAfterResponse, clientMinorVersion: clientVersion,
                serverToken: loop.settings.serverToken,
                upstreamLatencyMs: Int((now - sentAt).nanoseconds / 1_000_000),
                proxyLatencyMs: Int((sentAt - exchange.received).nanoseconds / 1_000_000),
                requestID: exchange.requestID, pluginHeaders: exchange.pluginHeaders,
                dropHeaders: exchange.responseTransformer?.touched, transformedLines: exchange.responseTransformer?.lines(for: head),
                bodyLength: bodyLength),
            into: &out)
        pendingResponseHead = out
    }

    /// proxy-cache, at the response head: store it (Miss/Refresh) when the status, content type
    /// and Cache-Control allow, else Bypass (the requests waiting on this fetch go upstream).
    private func decideCacheStorage(_ exchange: Exchange, _ head: ResponseHead) {
        guard var cache = exchange.cache else { return }
        let now = Double(loop.settings.wallClockMilliseconds()) / 1000
        if let storage = cache.plan.storage(for: head, now: now) {
            exchange.cacheCollect = (head, ByteBuffer(), storage.ttl, storage.storageTTL)
        } else {
            cache.status = .bypass
            cache.fetch?.end()
            cache.fetch = nil
        }
        trace.flags.cacheStatus = cache.status.rawValue
        var lines = exchange.pluginHeaders ?? allocator.buffer(capacity: 128)
        if cache.plan.sendStatus { lines.writeString("X-Cache-Status: \(cache.status.text)\r\n") }
        if cache.plan.sendKey { lines.writeString("X-Cache-Key: \(cache.key)\r\n") }
        exchange.pluginHeaders = lines
        exchange.cache = cache
    }

    /// Writes the held-back response head, if any.
    private func writePendingResponseHead() {
        guard let head = pendingResponseHead.take() else { return }
        trace.responseBytes += head.readableBytes
        responseHeadScratch = head
        writeToClient(head)
    }

    func upstreamResponseBody(_ slice: ByteBuffer) {
        guard let exchange else { return }
        if exchange.heldResponse != nil {
            exchange.heldResponse!.body.writeImmutableBuffer(slice)
            if exchange.heldResponse!.body.readableBytes > loop.settings.maxBufferedBodySize {
                // too large to transform: the response goes out as it came
                let held = exchange.heldResponse.take()!
                writeResponseHead(exchange, held.head)
                writeCollectedBody(exchange, held.body)
            }
            if exchange.cacheCollect != nil { collectForCache(exchange, slice) }
            return
        }
        if exchange.cacheCollect != nil { collectForCache(exchange, slice) }
        forwardResponseBody(exchange, slice)
    }

    /// proxy-cache keeps a copy of the body while it streams (a body too large for the store is not kept).
    private func collectForCache(_ exchange: Exchange, _ slice: ByteBuffer) {
        if exchange.cacheCollect!.body.readableBytes + slice.readableBytes > loop.cache.maxEntryBytes {
            exchange.cacheCollect = nil
            exchange.cache?.fetch?.end()
        } else {
            exchange.cacheCollect!.body.writeImmutableBuffer(slice)
        }
    }

    /// The body collected while the head was held, framed as the client's response is.
    private func writeCollectedBody(_ exchange: Exchange, _ body: ByteBuffer) {
        if body.readableBytes > 0 { forwardResponseBody(exchange, body) }
    }

    private func forwardResponseBody(_ exchange: Exchange, _ slice: ByteBuffer) {
        if var head = pendingResponseHead.take() {
            if exchange.responseFraming == .passthrough && slice.readableBytes <= 16384 {
                // Head and a small body in one buffer.
                head.writeImmutableBuffer(slice)
                trace.responseBytes += head.readableBytes
                responseHeadScratch = head
                writeToClient(head)
                if !connection.isWritable { pauseForClient(exchange) }
                return
            }
            trace.responseBytes += head.readableBytes
            responseHeadScratch = head
            writeToClient(head)
        }
        trace.responseBytes += slice.readableBytes
        if exchange.responseFraming == .chunked {
            var header = allocator.buffer(capacity: 12)
            ChunkedEncoder.writeChunkHeader(slice.readableBytes, into: &header)
            writeToClient(header)
            writeToClient(slice)
            writeToClient(ByteBuffer(staticString: "\r\n"))
        } else {
            writeToClient(slice)
        }
        if !connection.isWritable { pauseForClient(exchange) }
    }

    private func pauseForClient(_ exchange: Exchange) {
        // Pause before flushing: a flush that drains the socket fires the writability change at once.
        exchange.upstream?.pauseReading()
        flushClient()
        if !connection.isWritable { blockOnClient() }
    }

    func upstreamReadComplete() {
        writePendingResponseHead()
        flushClient()
    }

    var upstreamRequestComplete: Bool { exchange?.requestComplete ?? false }

    func upstreamResponseEnd() {
        guard let exchange else { return }
        if let held = exchange.heldResponse.take() {
            // response-transformer's JSON operations on the whole body (sent as it came if it is not a JSON object)
            if let transformed = exchange.responseTransformer?.transformJSON(held.body) {
                writeResponseHead(exchange, held.head, bodyLength: transformed.count)
                forwardResponseBody(exchange, ByteBuffer(bytes: transformed))
            } else {
                writeResponseHead(exchange, held.head, bodyLength: held.body.readableBytes)
                writeCollectedBody(exchange, held.body)
            }
        }
        writePendingResponseHead()
        if let upstream = exchange.upstream { lastActivity = max(lastActivity, upstream.lastReadAt) }
        if exchange.responseFraming == .chunked {
            writeToClient(ByteBuffer(staticString: ChunkedEncoder.lastChunk))
        }
        // The upstream answered before the whole body arrived: the rest of it can not be framed anymore.
        if !exchange.requestComplete { closeAfterResponse = true }
        if let collected = exchange.cacheCollect.take(), let cache = exchange.cache {
            let now = Double(loop.settings.wallClockMilliseconds()) / 1000
            loop.cache.insert(CachedResponse(
                key: cache.key, head: collected.head, body: collected.body, storedAt: now, ttl: collected.ttl,
                storageTTL: collected.storageTTL, isHEAD: exchange.head.isHEAD))
        }
        exchange.cache?.fetch?.end()
        exchange.upstream = nil
        publish(status: exchange.status, source: .upstream, decision: .none, at: lastActivity)
        finishExchange()
    }

    func upstreamFailed(_ failure: UpstreamFailure) {
        guard let exchange else { return }
        exchange.upstream = nil
        switch failure {
        case .closed(sawResponse: false, let reused):
            // nginx does not count a failure on a cached keep-alive connection as a try.
            if reused { exchange.tries -= 1 }
            retryOrFail(exchange, timedOut: false)
        case .closed(sawResponse: true, _), .malformedResponse:
            failExchange(exchange, .badGateway)
        }
    }

    /// Kong's retry rule: up to `service.retries` more tries on connection errors and timeouts,
    /// never re-sending a request whose body was consumed or whose method is not idempotent.
    private func retryOrFail(_ exchange: Exchange, timedOut: Bool) {
        if let health = exchange.targetHealth, let balancer = exchange.plan.balancer {
            loop.health?.report(timedOut ? .timeout : .tcpFailure, for: health, balancer.health.passive, check: "passive")
        }
        if exchange.recordsDetail, !exchange.tryLog.isEmpty {
            exchange.tryLog[exchange.tryLog.count - 1].failed = true
            exchange.tryLog[exchange.tryLog.count - 1].code = timedOut ? 504 : 502
        }
        let sent = exchange.headSentAt != nil
        if exchange.tries <= exchange.plan.retries, !sent || exchange.isReplayable {
            exchange.headSentAt = nil
            exchange.writeBlockedSince = nil
            exchange.requestComplete = exchange.bufferedBody == nil && { if case .none = exchange.head.framing { return true } else { return false } }()
            if let balancer = exchange.plan.balancer {
                // A retry goes to the next healthy target; with none left, the client gets 503.
                balancer.finished(exchange.pickIndex)
                exchange.pickIndex = -1
                let key = balancer.algorithm == .consistentHashing ? exchange.hashKey : nil
                guard let next = balancer.next(hashKey: key) else {
                    failExchange(exchange, .noPeer)
                    return
                }
                exchange.target = next.target
                exchange.targetHealth = balancer.health.passiveEnabled ? next.health : nil
                exchange.pickIndex = next.index
                // Kong sets the Host for each try: another target, another Host (and TLS server name).
                if var writing = exchange.headWriting {
                    let host = exchange.plan.hostHeader(for: next.target, name: next.name)
                    if host != writing.hostHeader {
                        writing.hostHeader = host
                        exchange.headWriting = writing
                        exchange.upstreamHead.clear()
                        UpstreamRequestWriter.write(exchange.head, writing, into: &exchange.upstreamHead)
                        exchange.tls = exchange.plan.tls(hostHeader: host)
                    }
                }
            }
            phase = .connecting
            connectUpstream(exchange)
            return
        }
        failExchange(exchange, timedOut ? .gatewayTimeout : .badGateway)
    }

    private func failExchange(_ exchange: Exchange, _ error: GatewayError) {
        if pendingResponseHead.take() != nil {
            // The head was held back: the client has seen nothing, so it can still get a clean error.
            exchange.responseStarted = false
        }
        exchange.upstream?.abort()
        exchange.upstream = nil
        if exchange.responseStarted {
            // Part of the response is out already: the only honest signal left is closing.
            publish(status: exchange.status, source: .upstream, decision: error.decision)
            self.exchange = nil
            connection.close()
            return
        }
        if !exchange.requestComplete { closeAfterResponse = true }
        self.exchange = nil
        failedExchange = exchange  // its tries go into the request's details
        respond(error, head: exchange.head, requestID: exchange.requestID, received: exchange.received, bodyPending: false)
        failedExchange = nil
    }

    // MARK: - Timeouts

    /// One timer per connection enforces the client idle timeout and the current exchange's
    /// write and read timeouts (time without progress). It is re-armed only when it fires or when
    /// a deadline earlier than the armed one appears, so a fast request schedules nothing.
    private func nextDeadline() -> NIODeadline? {
        let clientTimeout = loop.settings.clientIdleTimeout
        if let exchange, exchange.headSentAt != nil {
            if let blocked = exchange.writeBlockedSince { return blocked + exchange.plan.writeTimeout }
            // Uploading: the client must keep sending (nginx client_body_timeout).
            if !exchange.requestComplete { return lastActivity + clientTimeout }
            // Downloading to a client that does not read (nginx send_timeout).
            if let blocked = clientBlockedSince { return blocked + clientTimeout }
            return upstreamActivity(exchange) + exchange.plan.readTimeout
        }
        switch phase {
        case .head:
            if let started = headStartedAt { return min(lastActivity + clientTimeout, started + loop.settings.clientHeaderTimeout) }
            return lastActivity + clientTimeout
        case .discarding, .bufferingBody: return lastActivity + clientTimeout
        case .access, .connecting, .forwarding, .awaitingResponse, .closed: return nil  // connect timeout: the bootstrap's; Redis: its own
        }
    }

    private func upstreamActivity(_ exchange: Exchange) -> NIODeadline {
        guard let upstream = exchange.upstream else { return exchange.lastUpstreamActivity }
        return max(exchange.lastUpstreamActivity, upstream.lastReadAt)
    }

    private func ensureTimer(_ deadline: NIODeadline) {
        if timer != nil && timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = connection.loop.assumeIsolated().scheduleTask(deadline: deadline) { self.timerFired() }
    }

    private func timerFired() {
        timer = nil
        if case .closed = phase { return }
        let now = NIODeadline.now()
        if let exchange, exchange.headSentAt != nil {
            let plan = exchange.plan
            let clientTimeout = loop.settings.clientIdleTimeout
            if let blocked = exchange.writeBlockedSince {
                if now >= blocked + plan.writeTimeout {
                    failExchange(exchange, .gatewayTimeout)
                }
            } else if !exchange.requestComplete {
                if now >= lastActivity + clientTimeout {
                    // The client stopped sending its body: nginx answers 408 and closes.
                    closeAfterResponse = true
                    failExchange(exchange, GatewayError(status: 408, message: "Request timeout", plainByDefault: false))
                }
            } else if let blocked = clientBlockedSince {
                if now >= blocked + clientTimeout {
                    exchange.upstream?.abort()
                    self.exchange = nil
                    connection.close()
                    return
                }
            } else if now >= upstreamActivity(exchange) + plan.readTimeout {
                exchange.upstream?.abort()
                exchange.upstream = nil
                if exchange.responseStarted {
                    failExchange(exchange, .gatewayTimeout)
                } else {
                    retryOrFail(exchange, timedOut: true)
                }
            }
        } else if case .head = phase, let started = headStartedAt, now >= started + loop.settings.clientHeaderTimeout {
            // A head still incomplete after client_header_timeout, however active the client (slowloris).
            respondAndClose(status: 408, message: "Request timeout", decision: .badRequest)
            return
        } else if case .head = phase, now >= lastActivity + loop.settings.clientIdleTimeout {
            connection.close()
            return
        } else if case .discarding = phase, now >= lastActivity + loop.settings.clientIdleTimeout {
            connection.close()
            return
        } else if case .bufferingBody = phase, now >= lastActivity + loop.settings.clientIdleTimeout, let routed = bodyWait.take() {
            // The client stopped sending the body a plugin waits for: 408 and close, as nginx does.
            access.bodyRead = true
            closeAfterResponse = true
            respond(GatewayError(status: 408, message: "Request timeout", plainByDefault: false), head: routed.head,
                    requestID: routed.requestID, received: routed.received)
            return
        }
        if let next = nextDeadline() { ensureTimer(next) }
    }

    // MARK: - 6. Finish

    private func finishExchange() {
        if let exchange {
            upstreamHeadScratch = exchange.upstreamHead
            if let lines = exchange.pluginHeaders.take() { pluginHeaderScratch = lines }
            parser.recycle(exchange.head)
        }
        exchange = nil
        if closeAfterResponse {
            closeAfterFlush()
            return
        }
        flushClient()
        phase = .head
        ensureTimer(lastActivity + loop.settings.clientIdleTimeout)
        resumeReading()
        if inbound.readableBytes > 0 { processInbound() }
    }

    // MARK: - Gateway responses

    /// Answers with a gateway-made response. Any request body still to come is read and dropped
    /// (up to 1 MiB, else the connection closes) so the connection stays usable.
    /// - Parameter bodyPending: the request body (if any) is still unread in the connection.
    private func respond(
        _ error: GatewayError, head: RequestHead, requestID: RequestID, received: NIODeadline, bodyPending: Bool = true
    ) {
        // Like nginx, a request that could not be understood ends the connection.
        if !head.keepAlive || error.status == 400 { closeAfterResponse = true }
        // a body read whole by a plugin is not in the connection any more
        let body: BodyFraming = bodyPending && !access.bodyRead ? head.framing : .none
        if case .length(let n) = body, n > 1 << 20 { closeAfterResponse = true }
        // The client waits for a 100 that will not come: it may never send the body, so do not wait for it.
        if head.expectContinue && bodyPending { closeAfterResponse = true }
        let now = NIODeadline.now()
        let latency = Int((now - received).nanoseconds / 1_000_000)
        var out = allocator.buffer(capacity: 512)
        GatewayResponseWriter.write(
            error, requestID: requestID.description, accept: head.firstValue(of: .accept), isHEAD: head.isHEAD,
            keepAlive: !closeAfterResponse, date: loop.httpDate(), serverToken: loop.settings.serverToken,
            latencyMs: latency, into: &out)
        trace.responseBytes += out.readableBytes
        publish(status: error.status, source: .gateway, decision: error.decision, at: now, requestHead: head, responseHead: out)
        writeToClient(out)
        finishGatewayAnswer(bodyPending: body)
    }

    /// After a gateway-made answer: the request body still to come is read and dropped, or the
    /// connection closes.
    private func finishGatewayAnswer(bodyPending body: BodyFraming) {
        exchange = nil
        if case .none = body {
            finishExchange()
        } else if closeAfterResponse {
            finishExchange()
        } else {
            phase = .discarding(remaining: body, decoder: ChunkedDecoder(), discarded: 0)
            flushClient()
            discardBody()
        }
    }

    private func discardBody() {
        guard case .discarding(let remaining, var decoder, var discarded) = phase else { return }
        switch remaining {
        case .length(let n):
            let take = min(n, inbound.readableBytes)
            inbound.moveReaderIndex(forwardBy: take)
            if n == take {
                finishExchange()
            } else {
                phase = .discarding(remaining: .length(n - take), decoder: decoder, discarded: discarded + take)
            }
        case .chunked:
            do {
                try decoder.decode(&inbound) { discarded += $0.readableBytes }
            } catch {
                closeAfterResponse = true
                finishExchange()
                return
            }
            if decoder.isComplete {
                finishExchange()
            } else if discarded > 1 << 20 {
                closeAfterResponse = true
                finishExchange()
            } else {
                phase = .discarding(remaining: .chunked, decoder: decoder, discarded: discarded)
            }
        case .none, .untilClose:
            finishExchange()
        }
    }

    /// Publishes the request's event on this loop's lane of the event ring (no lock, no allocation).
    /// When a log plugin applies to the request, its details (raw heads, upstream target, tries)
    /// are copied beside the event as bytes, for the log sinks to turn into records off the loop.
    /// - Parameter at: when the response completed, if the caller already read the clock.
    /// - Parameter requestHead: the request's head when there is no exchange (gateway answers).
    /// - Parameter responseHead: the response as written (head, maybe followed by body bytes), for
    ///   gateway answers; a proxied response's head is the last one written to the client.
    private func publish(
        status: Int, source: ResponseSource, decision: RequestDecision, at: NIODeadline? = nil,
        requestHead: RequestHead? = nil, responseHead: ByteBuffer? = nil
    ) {
        guard trace.active else { return }
        let records = trace.recordsDetail
        let event = trace.finish(status: status, source: source, decision: decision, client: clientAddress, now: at ?? .now())
        guard records else {
            loop.events.publish(event)
            return
        }
        let exchange = self.exchange ?? failedExchange
        if let exchange, exchange.recordsDetail, !exchange.tryLog.isEmpty, !exchange.tryLog[exchange.tryLog.count - 1].failed {
            exchange.tryLog[exchange.tryLog.count - 1].code = UInt16(clamping: exchange.status)
        }
        let head = requestHead ?? exchange?.head
        let response = responseHead ?? (source == .upstream ? responseHeadScratch : nil)
        loop.publishWithDetail(
            event, requestHead: head?.bytes, upstreamHead: exchange?.upstreamHead, responseHead: response,
            tries: exchange?.tryLog ?? [], serverPort: listenerPort, credentialID: access.credentialID,
            correlationID: access.correlationID)
    }

    /// Closes once everything written so far is on the wire (a plain close would drop it).
    ///
    /// Then, like nginx's lingering close, the write side is shut and whatever the client still sends
    /// is read and dropped for a moment: closing with unread bytes would make the kernel answer with
    /// a reset that can destroy the response before the client reads it.
    private func closeAfterFlush() {
        phase = .closed
        inbound.clear()
        clientUnflushed = false
        guard connection.isOpen else { return }  // a write that failed closed it already
        // A client that never reads must not hold the connection: bound the wait.
        let connection = self.connection
        lingerTimer = connection.loop.assumeIsolated().scheduleTask(in: loop.settings.clientIdleTimeout) { connection.close() }
        connection.shutdownOutput()  // → connectionOutputShut once everything is written
    }

    /// Everything is written and the FIN sent: read (and drop) what the client still sends, for up to 2 s.
    func connectionOutputShut(_ connection: TCPConnection) {
        resumeReading()
        lingerTimer?.cancel()
        lingerTimer = connection.loop.assumeIsolated().scheduleTask(in: .seconds(2)) { connection.close() }
    }

    private func respondToMalformed(_ error: HTTPParseError) {
        respondAndClose(status: error.status, message: error.reason, decision: .badRequest)
    }

    /// Answers a request that never became one (malformed, or its head never completed) and closes.
    private func respondAndClose(status: Int, message: String, decision: RequestDecision) {
        headStartedAt = nil
        closeAfterResponse = true
        var out = allocator.buffer(capacity: 256)
        let gatewayError = GatewayError(status: status, message: message, plainByDefault: false)
        let requestID = loop.nextRequestID()
        GatewayResponseWriter.write(
            gatewayError, requestID: requestID.description, accept: nil, isHEAD: false, keepAlive: false,
            date: loop.httpDate(), serverToken: loop.settings.serverToken, latencyMs: 0, into: &out)
        loop.stats.requestStarted()
        trace.start(receivedAt: lastActivity, requestID: requestID, method: .unknown, minorVersion: 1, headBytes: inbound.readableBytes)
        trace.recordsDetail = loop.snapshot().recordsUnmatchedDetail
        access = AccessState()
        trace.responseBytes = out.readableBytes
        publish(status: status, source: .gateway, decision: decision, at: lastActivity)
        writeToClient(out)
        closeAfterFlush()
    }
}

@available(*, unavailable)
extension ProxyHandler: Sendable {}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}

/// A chunked request body went past request-size-limiting's limit while streaming.
private struct BodyLimitExceeded: Error {}

extension RequestHead: RouterHeaders {}
