import ArgusSnapshot
import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusCache
import ArgusRateLimit
import ArgusEvents
import ArgusHealth
import ArgusHTTP
import ArgusHTTP2
import ArgusLoop
import ArgusTransport
import NIOCore

/// 3–4. Upstream: plan the request, connect (a pooled connection or a new one), forward the body
/// with back-pressure both ways, relay the response; a failure goes to the retry rules.
extension ProxyConnection: UpstreamDelegate {
    // MARK: - Plan and connect

    func proceed(_ routed: RoutedRequest) {
        let head = routed.head
        if var error = planner.plan(routed, client: client, access: &access, scratch: upstreamHeadScratch.take(), into: &exchange) {
            // the plugins' response headers (cors, correlation-id, rate limiting) go on Kong's errors too
            error.headerLines = access.state.responseHeaders.take()
            answer(error, for: head, requestID: routed.requestID, received: routed.received)
            return
        }
        // a traced request keeps its tries too (its balancer spans)
        if trace.traceIDs != nil && trace.recordsDetail { exchange!.recordsDetail = true }
        let plan = routed.plan
        let buffered = exchange!.bufferedBody != nil
        request.exchangePlanned(
            framing: head.framing, bufferedBody: buffered, bodyLimit: exchange!.bodyLimit, retries: plan.retries,
            replayableMethod: UpstreamExchange.methodIsReplayable(head), writeTimeout: plan.writeTimeout, readTimeout: plan.readTimeout,
            received: routed.received)
        // (a body a plugin read whole got its 100 Continue then)
        if head.expectContinue && !buffered {
            transport.writeAndFlush(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n"))
        }
        connectUpstream()
    }

    private func connectUpstream() {
        guard exchange != nil else { return }
        let attempt = request.connecting()
        trace.tries = UInt8(clamping: attempt)
        if exchange!.recordsDetail {
            exchange!.tryLog.append(.init(host: exchange!.target.host, port: exchange!.target.port, startedAt: lastActivity.uptimeNanoseconds))
        }
        let key = exchange!.connectionKey
        if !key.http2, let pooled = loop.pool.take(key) {
            attach(pooled, now: lastActivity)
            return
        }
        let generation = request.generation
        let connected = key.http2
            ? loop.http2Pool.connect(key, timeout: exchange!.plan.connectTimeout, loop: loop.eventLoop)
            : loop.pool.connect(key, timeout: exchange!.plan.connectTimeout)
        connected.assumeIsolated().whenComplete { result in
            guard self.request.isConnecting(generation, attempt: attempt) else {
                if case .success(let connection) = result { connection.abort() }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, now: .now())
            case .failure(let error) where error is NameResolutionError:
                self.exchangeFailed(.nameResolution)
            case .failure(let error):
                var timedOut = false
                if case .connectTimeout = error as? ChannelError { timedOut = true }
                self.exchangeFailed(.connect(timedOut: timedOut))
            }
        }
    }

    private func attach(_ connection: UpstreamConnection, now: NIODeadline) {
        upstream = connection
        trace.reason = 0  // (an earlier try's TLS failure is not this one's)
        connection.begin(delegate: self, isHEAD: exchange!.head.isHEAD, upgrade: exchange!.upgrade)
        connection.write(exchange!.upstreamHead)
        request.headSent(at: now)
        trace.sentAt = now
        ensureTimer(now + exchange!.plan.readTimeout)
        forwardBody()
        resumeReading()
    }

    // MARK: - Forward the body

    func forwardBody() {
        guard let upstream, request.isForwarding else { return }
        if !request.requestComplete, let body = exchange!.bufferedBody {
            // read whole in the access phase: one write, every try
            upstream.write(body)
            request.bufferedBodySent()
        } else if !request.requestComplete {
            let chunked = exchange!.head.framing == .chunked
            let allocator = self.allocator
            let progress = request.forwardBody(&inbound) { slice in
                trace.requestBytes += slice.readableBytes
                if chunked {
                    var header = allocator.buffer(capacity: 12)
                    ChunkedEncoder.writeChunkHeader(slice.readableBytes, into: &header)
                    upstream.write(header)
                    upstream.write(slice)
                    upstream.write(ByteBuffer(staticString: "\r\n"))
                } else {
                    upstream.write(slice)
                }
            }
            switch progress {
            case .needMore:
                break
            case .complete:
                if chunked { upstream.write(ByteBuffer(staticString: ChunkedEncoder.lastChunk)) }
            case .overLimit, .malformed:
                // The client's chunked body is malformed, or larger than request-size-limiting
                // allows: the upstream request is abandoned, and the connection can not be read further.
                connection.closeAfterThisResponse()
                exchangeFailed(.badRequestBody(overLimit: progress == .overLimit))
                return
            }
        }
        let generation = request.generation, attempt = request.tries
        upstream.flush()
        // A flush that failed at once may have ended this try (and started another) re-entrantly.
        guard request.generation == generation, request.tries == attempt, self.upstream === upstream else { return }
        if request.requestComplete {
            request.requestSent(clientActivity: lastActivity)
        } else if !upstream.isWritable {
            pauseReading()
            upstreamBlocked()
        }
    }

    private func upstreamBlocked() {
        let now = NIODeadline.now()
        request.upstreamBlocked(at: now)
        ensureTimer(now + exchange!.plan.writeTimeout)
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        guard exchange != nil else { return }
        if tunnel != nil {
            if isWritable { resumeReading() }
            return
        }
        if isWritable {
            request.upstreamUnblocked()
            if request.isForwarding {
                resumeReading()
                forwardBody()
            }
        } else if request.isForwarding {
            upstreamBlocked()
            pauseReading()
        }
    }

    var upstreamRequestComplete: Bool { exchange != nil && request.requestComplete }

    // MARK: - Relay the response

    func upstreamResponseHead(_ head: ResponseHead) {
        guard exchange != nil, let upstream else { return }
        if head.status == 101, upstream.isTunnel {
            startTunnel(head)
            return
        }
        let now = upstream.lastReadAt
        trace.firstByteAt = now
        request.responseHead(status: head.status)
        // a gRPC answer without a body ("trailers-only") has its status in its head
        if exchange!.plan.usesHTTP2, let status = head.values(forLowercasedName: "grpc-status").first, let code = Int16(status) {
            trace.grpcStatus = code
        }
        let plan = exchange!.plan
        if let balancer = plan.balancer, balancer.algorithm == .latency, let sent = request.headSentAt {
            balancer.observe(exchange!.pickIndex, micros: Int((now - sent).nanoseconds / 1000))
        }
        // Passive health checks (the circuit breaker) judge every try by its status.
        if let health = exchange!.targetHealth, let balancer = plan.balancer {
            loop.health?.report(.status(head.status), for: health, balancer.health.passive, check: "passive")
        }
        if var cache = exchange!.cache {
            var lines = exchange!.pluginHeaders
            relay.decideCacheStorage(&cache, head, now: Double(loop.settings.wallClockMilliseconds()) / 1000, pluginHeaders: &lines)
            trace.flags.cacheStatus = cache.status.rawValue
            exchange!.cache = cache
            exchange!.pluginHeaders = lines
        }
        // response-ratelimiting's headers, and its 429 for a limit already spent
        if access.state.responseLimits != nil, applyResponseLimits(head) { return }
        if relay.holdsHead(head, transformer: exchange!.responseTransformer, requestIsHEAD: exchange!.head.isHEAD) { return }
        writeResponseHead(head)
    }

    /// Writes (holds back until the first body bytes) the client's response head for `head`;
    /// `bodyLength` when the body is written whole with that length (a transformed body);
    /// `upgrade` for a 101 that turns the connection into a tunnel.
    func writeResponseHead(_ head: ResponseHead, bodyLength: Int? = nil, upgrade: Bool = false) {
        // (the exchange's fields are read in place: a copy of the whole struct retains each of them)
        let now = upstream?.lastReadAt ?? trace.firstByteAt ?? .now()
        let clientVersion = exchange!.head.minorVersion
        let framing = upgrade ? .none : relay.chooseFraming(head, clientMinorVersion: clientVersion, bodyLength: bodyLength)
        if framing == .untilClose { connection.closeAfterThisResponse() }
        let received = exchange!.received
        let sentAt = request.headSentAt ?? received
        let transformer = exchange!.responseTransformer
        var out = relay.takeHeadStorage() ?? allocator.buffer(capacity: head.bytes.readableBytes + 256)
        out.clear()
        ClientResponseWriter.write(
            head,
            .init(
                framing: framing, keepAlive: !connection.closeAfterResponse, clientMinorVersion: clientVersion,
                serverToken: loop.settings.serverToken,
                upstreamLatencyMs: Int((now - sentAt).nanoseconds / 1_000_000),
                proxyLatencyMs: Int((sentAt - received).nanoseconds / 1_000_000),
                requestID: exchange!.requestID, pluginHeaders: exchange!.pluginHeaders,
                dropHeaders: ClientResponseWriter.dropped(
                    transformer?.touched, cors: exchange!.corsOwned, limits: access.state.responseLimits?.plan.dropped),
                transformedLines: transformer?.lines(for: head), upgrade: upgrade, bodyLength: bodyLength),
            into: &out)
        relay.setPendingHead(out)
    }

    func upstreamResponseBody(_ slice: ByteBuffer) {
        guard exchange != nil else { return }
        if tunnel != nil {
            tunnelDown(slice)
            return
        }
        switch relay.upstreamBody(slice, cacheFetch: exchange!.cache?.fetch) {
        case .relay:
            relayBody(slice)
        case .held:
            return
        case .release(let head, let body):
            // too large to transform: the response goes out as it came
            writeResponseHead(head)
            if body.readableBytes > 0 { relayBody(body) }
        }
    }

    private func relayBody(_ slice: ByteBuffer) {
        trace.responseBytes += relay.writeBody(slice) { writeToClient($0) }
        if !transport.isWritable {
            // Pause before flushing: a flush that drains the socket fires the writability change at once.
            upstream?.pauseReading()
            flushClient()
            if !transport.isWritable, !request.isClientBlocked {
                let now = NIODeadline.now()
                request.clientBlocked(at: now)
                ensureTimer(now + loop.settings.clientIdleTimeout)
            }
        }
    }

    func upstreamReadComplete() {
        trace.responseBytes += relay.writePendingHead { writeToClient($0) }
        flushClient()
    }

    /// Trailers go on to clients on HTTP/2 streams (gRPC's status is there); an HTTP/1.1 client
    /// does not get them (as from nginx).
    func upstreamResponseTrailers(_ lines: [UInt8]) {
        guard exchange != nil, transport.isStream else { return }
        relay.setTrailers(lines)
        if let status = ChunkedDecoder.fields(ofLines: lines).first(where: { $0.name == "grpc-status" }), let code = Int16(status.value) {
            trace.grpcStatus = code
        }
    }

    func upstreamInputEnded() {
        if tunnel != nil { tunnelUpstreamEnded() }
    }

    func upstreamResponseEnd() {
        guard exchange != nil else { return }
        if tunnel != nil {
            // the upstream closed the tunnel
            closeTunnel()
            return
        }
        if let held = relay.takeHeld() {
            // response-transformer's JSON operations on the whole body (sent as it came if it is not a JSON object)
            if let transformed = exchange!.responseTransformer?.transformJSON(held.body) {
                writeResponseHead(held.head, bodyLength: transformed.count)
                relayBody(ByteBuffer(bytes: transformed))
            } else {
                writeResponseHead(held.head, bodyLength: held.body.readableBytes)
                if held.body.readableBytes > 0 { relayBody(held.body) }
            }
            // A write that failed at once closed the client connection (and ended the exchange).
            guard exchange != nil else { return }
        }
        trace.responseBytes += relay.writePendingHead { writeToClient($0) }
        if let upstream { lastActivity = max(lastActivity, upstream.lastReadAt) }
        relay.writeEnd { writeToClient($0) }
        // The upstream answered before the whole body arrived: the rest of it can not be framed anymore.
        if !request.requestComplete { connection.closeAfterThisResponse() }
        if let collected = relay.takeCollected(), let cache = exchange!.cache {
            let now = Double(loop.settings.wallClockMilliseconds()) / 1000
            loop.cache.insert(CachedResponse(
                key: cache.key, head: collected.head, body: collected.body, storedAt: now, ttl: collected.ttl,
                storageTTL: collected.storageTTL, isHEAD: exchange!.head.isHEAD))
        }
        exchange!.cache?.fetch?.end()
        upstream = nil  // back in the pool, or closing
        publish(status: request.status, source: .upstream, decision: .none, at: lastActivity)
        finishRequest(unread: .none, recycle: true)
    }

    // MARK: - Failures

    func upstreamFailed(_ failure: UpstreamFailure) {
        guard exchange != nil else { return }
        upstream = nil  // closed already
        switch failure {
        case .closed(sawResponse: false, let reused):
            exchangeFailed(.closedBeforeResponse(reused: reused))
        case .tls(let description, let verification, let sawResponse, let reused):
            // Said in the log (once a second per loop) and in the request's event; then as any
            // connection that broke: another try before a response, else 502 or a close.
            trace.reason = verification ? UpstreamReason.tlsVerification : UpstreamReason.tlsHandshake
            loop.logUpstreamTLSFailure(description, target: exchange!.target, verification: verification)
            exchangeFailed(sawResponse ? .brokenResponse : .closedBeforeResponse(reused: reused))
        case .closed(sawResponse: true, _), .malformedResponse:
            exchangeFailed(.brokenResponse)
        }
    }

    /// The exchange failed: another try, an answer for the client, or a close (the retry rules
    /// are `RequestStateMachine.failed`'s).
    func exchangeFailed(_ failure: RequestStateMachine.Failure) {
        guard exchange != nil else { return }
        upstream?.abort()
        upstream = nil
        let decision = request.failed(failure, clientSawResponse: request.responseStarted && relay.pendingHead == nil)
        if let tryFailed = decision.tryFailed {
            if let health = exchange!.targetHealth, let balancer = exchange!.plan.balancer {
                loop.health?.report(tryFailed.timedOut ? .timeout : .tcpFailure, for: health, balancer.health.passive, check: "passive")
            }
            exchange!.recordFailedTry(timedOut: tryFailed.timedOut)
        }
        switch decision.action {
        case .retry:
            guard UpstreamRequestPlanner.retarget(&exchange!) else {
                // A retry goes to the next healthy target; with none left, the client gets 503.
                answerFailedExchange(.noPeer)
                return
            }
            connectUpstream()
        case .answer(let error):
            answerFailedExchange(error)
        case .close(let decision):
            publish(status: request.status, source: .upstream, decision: decision)
            abandonExchange()
            transport.close()
        }
    }

    /// The client has seen nothing of a response (a head held back is dropped): it gets a clean error.
    private func answerFailedExchange(_ error: GatewayError) {
        _ = relay.dropPendingHead()
        var error = error
        // the plugins' response headers (cors, correlation-id, rate limiting) go on Kong's 502/503/504 too
        if error.headerLines == nil, let lines = exchange?.pluginHeaders { error.headerLines = lines }
        error = withResponseLimitHeaders(error)
        if !request.requestComplete { connection.closeAfterThisResponse() }
        answer(error, for: exchange!.head, requestID: exchange!.requestID, received: exchange!.received, bodyPending: false)
    }

    /// Lets go of the exchange and its upstream connection (the client went away, or a failure
    /// closes the client connection).
    func abandonExchange() {
        upstream?.abort()
        upstream = nil
        exchange?.releasePick()
        exchange = nil
    }
}
