import ArgusSnapshot
import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusCache
import ArgusEvents
import ArgusHTTP
import ArgusLoop
import ArgusTransport
import ArgusTracing
import ArgusRateLimit
import ArgusRedis
import Logging
import NIOCore

/// 2. Route and access: a parsed head becomes a routed request, and the access phase decides
/// whether it goes upstream, is answered by the gateway, or waits (for its body, for Redis, for
/// another request's cache fetch).
extension ProxyConnection {
    func startRequest(_ head: RequestHead) {
        let received = lastActivity
        let requestID = loop.nextRequestID()
        loop.stats.requestStarted()
        requestsOnConnection += 1
        // A stream of an HTTP/2 connection carries one request: it ends with its response.
        connection.requestStarted(keepAlive: head.keepAlive && !transport.isStream)
        request.begin()
        access = AccessPipeline()
        relay.reset()
        if peer.peerTrusted { client = peer.behind(head, settings: loop.settings.realIP, trusted: loop.settings.trustedIPs) }
        let snapshot = loop.snapshot()
        trace.start(
            receivedAt: received, requestID: requestID, method: RequestMethod(name: head.methodString),
            minorVersion: head.minorVersion, headBytes: head.bytes.readableBytes)
        if transport.isStream { trace.httpVersion = 20 }
        trace.configVersion = UInt32(truncatingIfNeeded: snapshot.version)
        trace.recordsDetail = snapshot.recordsUnmatchedDetail
        var refusal: GatewayError?
        let routed = RouteStep.route(
            head, requestID: requestID, received: received, snapshot: snapshot, listenerPort: listenerPort, tls: tls,
            trustedPeer: client.peerTrusted, http2: transport.isStream, maxRequestBodySize: loop.settings.maxRequestBodySize, trace: &trace, answer: &refusal)
        let tracing = trace.route >= 0 ? snapshot.routes[Int(trace.route)].tracing : snapshot.unmatchedTracing
        if let tracing { beginTrace(tracing, head) }
        if let routed {
            runAccess(routed)
        } else if var refusal {
            if let lines = access.state.responseHeaders.take() { refusal.headerLines = lines }
            answer(refusal, for: head, requestID: requestID, received: received)
        }
    }

    /// The tracing (`opentelemetry`, `zipkin`) instance's part before the access phase (Kong runs
    /// it in access; here it runs first, so a request the access phase refuses still continues the
    /// client's trace):
    /// the client's context read, the ids chosen, the sampling decided, the headers for the
    /// upstream and the client rendered. A sampled request (or one whose records go to a
    /// `logs_endpoint`) carries its details in its event.
    private func beginTrace(_ tracing: TracePlan, _ head: RequestHead) {
        let found = TraceHeaders(head)
        let decision = tracing.begin(
            header: { found.value($0) }, generator: &loop.traceIDs, defaultRate: loop.settings.tracingSamplingRate)
        trace.traceIDs = decision.ids
        if decision.ids.sampled && tracing.exportsTraces || tracing.exportsLogs { trace.recordsDetail = true }
        if !decision.upstreamLines.isEmpty || !decision.replace.isEmpty {
            access.state.traceLines = decision.upstreamLines
            access.state.traceRemove = decision.replace
        }
        if let (name, value) = decision.responseHeader {
            if access.state.responseHeaders == nil { access.state.responseHeaders = allocator.buffer(capacity: 128) }
            AccessState.writeLine(name, value, into: &access.state.responseHeaders!)
        }
    }

    /// Runs the access phase from where it stands.
    func runAccess(_ routed: RoutedRequest) {
        var env = self
        let decision = access.run(routed, client: client, trace: &trace, env: &env)
        accessDecided(decision, routed)
    }

    /// The access phase waits (for the body, another request's cache fetch): the routed request
    /// is kept for when it goes on (a request that does not wait is never copied here).
    private func wait(_ routed: RoutedRequest) {
        self.routed = routed
    }

    private func accessDecided(_ decision: AccessDecision, _ routed: RoutedRequest) {
        switch decision {
        case .next:
            proceed(routed)
        case .needBody:
            startReadingBody(routed)
        case .suspend(.responseLimits(let plan, let identifier, let nowMs, let endpoint)):
            request.suspend(.rateLimitStore)
            readResponseLimitsInRedis(plan, identifier: identifier, nowMs: nowMs, endpoint: endpoint, routed)
        case .suspend(.rateLimit(let limiter, let identifier, let nowMs, let endpoint)):
            request.suspend(.rateLimitStore)
            checkInRedis(limiter, identifier: identifier, nowMs: nowMs, endpoint: endpoint, routed)
        case .suspend(.cacheFetch):
            // woken by `cacheFetchEnded` (registered by `beginCacheFetch`)
            request.suspend(.cacheFetch)
            wait(routed)
        case .answer(let error):
            answer(withResponseLimitHeaders(error), for: routed.head, requestID: routed.requestID, received: routed.received)
        case .serve(let hit):
            serveFromCache(hit, routed)
        }
    }

    // MARK: - Reading the body for a plugin

    /// A plugin needs the whole request body: read it (bounded by `maxBufferedBodySize`), then
    /// run the same step again.
    private func startReadingBody(_ routed: RoutedRequest) {
        let head = routed.head
        switch request.startReadingBody(head.framing, limit: loop.settings.maxBufferedBodySize) {
        case .tooLarge:
            connection.closeAfterThisResponse()
            answer(.payloadTooLarge, for: head, requestID: routed.requestID, received: routed.received)
        case .empty:
            access.state.body = ByteBuffer()
            access.state.bodyRead = true
            runAccess(routed)
        case .read:
            wait(routed)
            if head.expectContinue { transport.writeAndFlush(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n")) }
            ensureTimer(lastActivity + loop.settings.clientIdleTimeout)
            readBodyForAccess()
        }
    }

    /// Moves body bytes from the connection into the body being read; once it is whole, the
    /// access phase goes on with it.
    func readBodyForAccess() {
        guard let routed else { return }
        var received = 0
        let read = request.readBody(&inbound, received: &received)
        trace.requestBytes += received
        switch read {
        case .needMore:
            return
        case .complete(let body):
            access.state.body = body
            access.state.bodyRead = true
            self.routed = nil
            runAccess(routed)
        case .tooLarge, .malformed:
            // What is left of the body is not read: the connection closes.
            access.state.bodyRead = true
            connection.closeAfterThisResponse()
            let error: GatewayError = if case .tooLarge = read { .payloadTooLarge } else { .badRequest("Bad request") }
            answer(withResponseLimitHeaders(error), for: routed.head, requestID: routed.requestID, received: routed.received)
        }
    }

    // MARK: - Waiting for stores

    /// A rate-limiting check in Redis, with this loop's client: the reply completes on this
    /// thread. Meanwhile the connection reads nothing more.
    private func checkInRedis(
        _ limiter: RateLimitPlan, identifier: String, nowMs: Int64, endpoint: RedisEndpoint, _ routed: RoutedRequest
    ) {
        resumeAccess(after: RedisRateLimit.check(limiter, identifier: identifier, nowMs: nowMs, client: loop.redis.client(endpoint)), routed) {
            connection, result in
            var env = connection
            return connection.access.rateLimitAnswered(limiter, result, routed, client: connection.client, trace: &connection.trace, env: &env)
        }
    }

    /// Goes on with the access phase once a store (Redis) answered a suspended step, unless the
    /// client went (or the request was answered) meanwhile.
    private func resumeAccess<T>(
        after answer: EventLoopFuture<T>, _ routed: RoutedRequest, _ decide: @escaping (ProxyConnection, Result<T, any Error>) -> AccessDecision
    ) {
        let generation = request.generation
        answer.assumeIsolated().whenComplete { result in
            guard self.request.resume(.rateLimitStore, generation: generation) else { return }
            self.accessDecided(decide(self, result), routed)
            if self.request.isActive { self.drive() }
        }
    }

    /// response-ratelimiting's `redis` policy: what responses spent, read from Redis.
    private func readResponseLimitsInRedis(
        _ plan: ResponseRateLimitPlan, identifier: String, nowMs: Int64, endpoint: RedisEndpoint, _ routed: RoutedRequest
    ) {
        resumeAccess(after: RedisResponseLimits.spent(plan, identifier: identifier, nowMs: nowMs, client: loop.redis.client(endpoint)), routed) {
            connection, result in
            var env = connection
            return connection.access.responseLimitsAnswered(
                plan, identifier: identifier, nowMs: nowMs, result, routed, client: connection.client, trace: &connection.trace, env: &env)
        }
    }

    /// The cache fetch this request waited for is over: look in the cache again.
    func cacheFetchEnded(_ generation: UInt64) {
        guard request.resume(.cacheFetch, generation: generation), let routed = routed.take() else { return }
        runAccess(routed)
    }

    // MARK: - Serving from the cache

    /// A cache hit: the stored response through the same writer as a live one (hop-by-hop headers
    /// dropped, this request's plugin headers added), with `Age`, `X-Cache-Status: Hit` and
    /// `X-Cache-Key`.
    private func serveFromCache(_ hit: CacheHit, _ routed: RoutedRequest) {
        let head = routed.head, entry = hit.entry, plan = hit.plan
        var lines = access.state.responseHeaders.take() ?? allocator.buffer(capacity: 128)
        // response-ratelimiting's header_filter runs on a hit too: a hit spends nothing
        if let limits = access.state.responseLimits { _ = limits.plan.writeResponseHeaders(limits.usage, increments: [], into: &lines) }
        if plan.sendAge || hit.debug { lines.writeString("Age: \(entry.age(now: hit.now))\r\n") }
        if plan.sendStatus || hit.debug { lines.writeStaticString("X-Cache-Status: Hit\r\n") }
        if plan.sendKey || hit.debug { lines.writeString("X-Cache-Key: \(entry.key)\r\n") }
        connection.answering(unread: head.framing, waitsForContinue: head.expectContinue && head.framing != .none)
        let answeredAt = NIODeadline.now()
        let transformer = access.state.responseTransformer
        var body = entry.body
        if let transformer, !entry.isHEAD, transformer.wantsBody(entry.head), let transformed = transformer.transformJSON(body) {
            body = ByteBuffer(bytes: transformed)
        }
        var out = allocator.buffer(capacity: entry.head.bytes.readableBytes + body.readableBytes + 256)
        ClientResponseWriter.write(
            entry.head,
            .init(
                framing: .passthrough, keepAlive: !connection.closeAfterResponse, clientMinorVersion: head.minorVersion,
                serverToken: loop.settings.serverToken, upstreamLatencyMs: 0,
                proxyLatencyMs: Int((answeredAt - routed.received).nanoseconds / 1_000_000), requestID: routed.requestID,
                pluginHeaders: lines,
                dropHeaders: ClientResponseWriter.dropped(
                    transformer?.touched, cors: access.state.corsOwned, limits: access.state.responseLimits?.plan.dropped),
                transformedLines: transformer?.lines(for: entry.head),
                bodyLength: entry.isHEAD ? nil : body.readableBytes),
            into: &out)
        let headOnly = out
        if !head.isHEAD && !entry.isHEAD { out.writeImmutableBuffer(body) }
        trace.responseBytes += out.readableBytes
        // Kong counts a cache hit as `source="service"` (the plugin marks the request proxied).
        publish(status: entry.head.status, source: .upstream, decision: .cacheHit, at: answeredAt, requestHead: head, responseHead: headOnly)
        writeToClient(out)
        finishRequest(unread: access.state.bodyRead ? .none : head.framing)
    }
}

/// The access phase's surroundings on the request path: this loop's stores and generators.
extension ProxyConnection: AccessEnvironment {
    func wallClockMilliseconds() -> Int64 {
        loop.settings.wallClockMilliseconds()
    }

    func generateCorrelationID(_ generator: CorrelationIDPlan.Generator) -> String {
        // the server address only for `tracker` (formatting it is not free)
        let serverAddress = generator == .tracker ? transport.localAddress?.ipAddress ?? "" : ""
        return loop.correlation.next(
            generator, serverAddress: serverAddress, serverPort: listenerPort, connection: connectionSerial,
            connectionRequests: requestsOnConnection, nowMs: loop.settings.wallClockMilliseconds())
    }

    func countLocally(_ limiter: RateLimitPlan, identifier: String, nowMs: Int64) -> RateLimitUsage {
        let settings = limiter.settings
        return loop.rateLimitCounters.check(
            scope: limiter.scope, identifier: identifier, limits: settings.limits, algorithm: settings.algorithm, nowMs: nowMs)
    }

    func countSynced(_ limiter: RateLimitPlan, identifier: String, nowMs: Int64) -> RateLimitUsage {
        loop.syncedCounters.check(limiter, identifier: identifier, nowMs: nowMs)
    }

    func responseLimitsSpent(_ plan: ResponseRateLimitPlan, identifier: String, nowMs: Int64) -> [Int64] {
        loop.responseCounters.spent(plan, identifier: identifier, nowMs: nowMs)
    }

    var cache: ProxyCacheStore { loop.cache }

    func beginCacheFetch(_ key: String) -> Bool {
        let eventLoop = transport.loop
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let generation = request.generation
        return loop.cache.beginFetch(key) { eventLoop.execute { bound.value.cacheFetchEnded(generation) } }
    }

    func rateLimitStoreFailed(_ error: any Error, faultTolerant: Bool) {
        guard loop.storeErrorLog.allows(at: .now()) else { return }
        loop.logger.error("rate-limiting: failed to get usage", metadata: ["error": "\(error)", "fault_tolerant": "\(faultTolerant)"])
    }

    func responseLinesBuffer() -> ByteBuffer {
        guard var buffer = pluginHeaderScratch.take() else { return allocator.buffer(capacity: 256) }
        buffer.clear()
        return buffer
    }
}
