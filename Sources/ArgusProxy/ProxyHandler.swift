import ArgusConfig
import ArgusHTTP
import ArgusRouting
import Logging
import NIOCore

/// The data path of one client connection, top to bottom:
///
/// 1. **parse** the request head strictly (`RequestHeadParser`); malformed input is answered 4xx here
///    and never reaches an upstream;
/// 2. **route** it through the current config snapshot's `Router`;
/// 3. **pick** the target (service host, or the upstream's balancer) and take a pooled connection
///    on this same event loop, or connect one;
/// 4. **forward** the head (`UpstreamRequestWriter`) and stream the body with back-pressure;
/// 5. **respond**: stream the upstream's response back (`ClientResponseWriter`), or answer with a
///    Kong-style gateway error (`GatewayResponseWriter`) when anything fails, retrying first where
///    Kong would;
/// 6. **finish**: return the upstream connection to the pool and read the next request.
///
/// The client channel and its upstream channel live on one event loop, so all of this is
/// single-threaded code without locks or hops.
final class ProxyHandler: ChannelDuplexHandler, UpstreamDelegate {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// Waiting for (more of) a request head.
        case head
        /// Routed; waiting for an upstream connection.
        case connecting
        /// Sending the request body upstream.
        case forwarding
        /// Request sent; waiting for the response to finish.
        case awaitingResponse
        /// Answered by the gateway; reading and dropping the request body to keep the connection usable.
        case discarding(remaining: BodyFraming, decoder: ChunkedDecoder)
        case closed
    }

    private let loop: LoopContext
    private let listenerPort: Int
    private var context: ChannelHandlerContext!
    private var phase: Phase = .head
    private var inbound = ByteBuffer()
    private var parser: RequestHeadParser
    private var exchange: Exchange?
    private var readPaused = false
    private var pendingRead = false
    private var closeAfterResponse = false
    private var clientIP = ""
    private var peerTrusted = false
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()

    init(loop: LoopContext, listenerPort: Int) {
        self.loop = loop
        self.listenerPort = listenerPort
        self.parser = RequestHeadParser(
            maxRequestLineLength: loop.settings.maxRequestLineLength, maxHeadLength: loop.settings.maxHeadLength)
    }

    // MARK: - Connection lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        let remote = context.channel.remoteAddress
        clientIP = remote?.ipAddress ?? "0.0.0.0"
        peerTrusted = loop.settings.trustedIPs.contains(remote)
        loop.register(self)
        armIdleTimer()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        if let exchange {
            exchange.timer?.cancel()
            exchange.upstream?.abort()
            self.exchange = nil
        }
        idleTimer?.cancel()
        loop.unregister(self)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Graceful shutdown: close now if idle, else after the current response.
    func quiesce() {
        closeAfterResponse = true
        if case .head = phase, inbound.readableBytes == 0 { context.close(promise: nil) }
    }

    func forceClose() {
        context.close(promise: nil)
    }

    // MARK: - Back-pressure

    func read(context: ChannelHandlerContext) {
        if readPaused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    private func pauseReading() {
        readPaused = true
    }

    private func resumeReading() {
        guard readPaused else { return }
        readPaused = false
        if pendingRead {
            pendingRead = false
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            exchange?.upstream?.resumeReading()
        } else {
            exchange?.upstream?.pauseReading()
        }
    }

    // MARK: - 1. Parse

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        lastActivity = .now()
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeImmutableBuffer(bytes)
        }
        processInbound()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstream?.flush()
        context.flush()
    }

    private func processInbound() {
        while true {
            switch phase {
            case .head:
                guard inbound.readableBytes > 0 else { return }
                switch parser.parse(&inbound) {
                case .needMore:
                    return
                case .error(let error):
                    respondToMalformed(error)
                    return
                case .head(let head):
                    startExchange(head)
                }
            case .forwarding:
                forwardBody()
                return
            case .discarding:
                discardBody()
                if case .discarding = phase { return }
            case .connecting, .awaitingResponse:
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
        let received = NIODeadline.now()
        let requestID = loop.nextRequestID()
        loop.stats.requestStarted()
        let snapshot = loop.snapshot()
        guard let path = PathNormalizer.normalize(head.string(head.path)[...]) else {
            respond(.badRequest("Bad request"), head: head, requestID: requestID, received: received)
            return
        }
        let request = RouterRequest(
            method: head.methodString, host: head.hostString, port: head.hostPort ?? listenerPort, path: path)
        guard let match = snapshot.router.match(request, headers: head) else {
            respond(.noRoute, head: head, requestID: requestID, received: received)
            return
        }
        guard let service = match.service else {
            respond(.noService, head: head, requestID: requestID, received: received)
            return
        }
        if !match.route.protocols.contains("http") {
            respond(.useHTTPS, head: head, requestID: requestID, received: received)
            return
        }
        if loop.settings.maxRequestBodySize > 0, case .length(let n) = head.framing, n > loop.settings.maxRequestBodySize {
            respond(.payloadTooLarge, head: head, requestID: requestID, received: received)
            return
        }

        // 3. Pick the target.
        let balancer = snapshot.balancers[service.host]
        let target: PoolKey
        if let balancer {
            guard let picked = balancer.next() else {
                respond(.noPeer, head: head, requestID: requestID, received: received)
                return
            }
            target = PoolKey(host: picked.host, port: picked.port)
        } else {
            target = PoolKey(host: service.host, port: service.port)
        }

        var upstreamHead = context.channel.allocator.buffer(capacity: head.bytes.readableBytes + 512)
        let hostHeader: String
        if match.route.preserveHost, head.host.count > 0 {
            hostHeader = head.firstValue(of: .host) ?? head.hostString
        } else if let override = balancer?.upstream.hostHeader {
            hostHeader = override
        } else {
            let defaultPort = service.protocol == "https" ? 443 : 80
            hostHeader = target.port == defaultPort ? target.host : "\(target.host):\(target.port)"
        }
        UpstreamRequestWriter.write(
            head,
            .init(
                upstreamPath: match.upstreamPath, hostHeader: hostHeader, clientIP: clientIP, peerTrusted: peerTrusted,
                listenerPort: listenerPort, strippedPrefix: match.strippedPrefix, requestID: requestID,
                viaToken: loop.settings.serverToken),
            into: &upstreamHead)

        let exchange = Exchange(
            head: head, requestID: requestID, received: received, match: match, service: service, balancer: balancer,
            upstreamHead: upstreamHead, target: target)
        self.exchange = exchange
        if !head.keepAlive { closeAfterResponse = true }
        if head.expectContinue {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n")), promise: nil)
        }
        phase = .connecting
        connectUpstream(exchange)
    }

    // MARK: - 3. Connect

    private func connectUpstream(_ exchange: Exchange) {
        exchange.tries += 1
        if let pooled = loop.pool.take(exchange.target) {
            attach(pooled, to: exchange)
            return
        }
        let timeout = TimeAmount.milliseconds(Int64(exchange.service.connectTimeout))
        loop.pool.connect(exchange.target, timeout: timeout).assumeIsolated().whenComplete { result in
            guard self.exchange === exchange else {
                if case .success(let handler) = result { handler.abort() }
                return
            }
            switch result {
            case .success(let handler):
                self.attach(handler, to: exchange)
            case .failure(let error):
                let timedOut = (error as? ChannelError) == .connectTimeout(timeout)
                self.retryOrFail(exchange, timedOut: timedOut)
            }
        }
    }

    private func attach(_ upstream: UpstreamHandler, to exchange: Exchange) {
        exchange.upstream = upstream
        upstream.begin(delegate: self, isHEAD: exchange.head.isHEAD)
        upstream.write(exchange.upstreamHead)
        let now = NIODeadline.now()
        exchange.headSentAt = now
        exchange.lastUpstreamActivity = now
        armExchangeTimer(exchange)
        phase = .forwarding
        forwardBody()
        resumeReading()
    }

    // MARK: - 4. Forward the body

    private func forwardBody() {
        guard let exchange, let upstream = exchange.upstream else { return }
        if !exchange.requestComplete {
            switch exchange.requestFraming {
            case .length(let remaining):
                let take = min(remaining, inbound.readableBytes)
                if take > 0 {
                    upstream.write(inbound.readSlice(length: take)!)
                    exchange.bodyConsumed = true
                    exchange.requestFraming = .length(remaining - take)
                    if remaining == take { exchange.requestComplete = true }
                }
            case .chunked:
                do {
                    try exchange.chunkedDecoder.decode(&inbound) { slice in
                        var header = context.channel.allocator.buffer(capacity: 12)
                        ChunkedEncoder.writeChunkHeader(slice.readableBytes, into: &header)
                        upstream.write(header)
                        upstream.write(slice)
                        upstream.write(ByteBuffer(staticString: "\r\n"))
                        exchange.bodyConsumed = true
                    }
                } catch {
                    // The client's chunked body is malformed: nothing sensible can reach the upstream.
                    upstream.abort()
                    exchange.upstream = nil
                    closeAfterResponse = true
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
        if exchange.requestComplete {
            if case .forwarding = phase { phase = .awaitingResponse }
        } else if !upstream.isWritable {
            pauseReading()
            exchange.writeBlockedSince = .now()
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
            exchange.writeBlockedSince = .now()
            pauseReading()
        }
    }

    // MARK: - 5. Respond

    func upstreamResponseHead(_ head: ResponseHead) {
        guard let exchange else { return }
        let now = NIODeadline.now()
        exchange.lastUpstreamActivity = now
        exchange.responseStarted = true
        exchange.status = head.status
        let clientVersion = exchange.head.minorVersion
        let framing = ClientResponseWriter.framing(for: head.framing, clientMinorVersion: clientVersion)
        exchange.responseFraming = framing
        if framing == .untilClose { closeAfterResponse = true }
        let sentAt = exchange.headSentAt ?? exchange.received
        var out = context.channel.allocator.buffer(capacity: head.bytes.readableBytes + 256)
        ClientResponseWriter.write(
            head,
            .init(
                framing: framing, keepAlive: !closeAfterResponse, clientMinorVersion: clientVersion,
                serverToken: loop.settings.serverToken,
                upstreamLatencyMs: Int((now - sentAt).nanoseconds / 1_000_000),
                proxyLatencyMs: Int((sentAt - exchange.received).nanoseconds / 1_000_000),
                requestID: exchange.requestID),
            into: &out)
        context.write(wrapOutboundOut(out), promise: nil)
    }

    func upstreamResponseBody(_ slice: ByteBuffer) {
        guard let exchange else { return }
        exchange.lastUpstreamActivity = .now()
        if exchange.responseFraming == .chunked {
            var header = context.channel.allocator.buffer(capacity: 12)
            ChunkedEncoder.writeChunkHeader(slice.readableBytes, into: &header)
            context.write(wrapOutboundOut(header), promise: nil)
            context.write(wrapOutboundOut(slice), promise: nil)
            context.write(wrapOutboundOut(ByteBuffer(staticString: "\r\n")), promise: nil)
        } else {
            context.write(wrapOutboundOut(slice), promise: nil)
        }
        if !context.channel.isWritable {
            // Pause before flushing: a flush that drains the socket fires the writability change at once.
            exchange.upstream?.pauseReading()
            context.flush()
        }
    }

    func upstreamReadComplete() {
        context.flush()
    }

    var upstreamRequestComplete: Bool { exchange?.requestComplete ?? false }

    func upstreamResponseEnd() {
        guard let exchange else { return }
        if exchange.responseFraming == .chunked {
            context.write(wrapOutboundOut(ByteBuffer(staticString: ChunkedEncoder.lastChunk)), promise: nil)
        }
        // The upstream answered before the whole body arrived: the rest of it can not be framed anymore.
        if !exchange.requestComplete { closeAfterResponse = true }
        exchange.upstream = nil
        finishExchange()
    }

    func upstreamFailed(_ failure: UpstreamFailure) {
        guard let exchange else { return }
        exchange.upstream = nil
        switch failure {
        case .closed(sawResponse: false):
            retryOrFail(exchange, timedOut: false)
        case .closed(sawResponse: true), .malformedResponse:
            failExchange(exchange, .badGateway)
        }
    }

    /// Kong's retry rule: up to `service.retries` more tries on connection errors and timeouts,
    /// never re-sending a request whose body was consumed or whose method is not idempotent.
    private func retryOrFail(_ exchange: Exchange, timedOut: Bool) {
        let sent = exchange.headSentAt != nil
        if exchange.tries <= exchange.service.retries, !sent || exchange.isReplayable {
            exchange.timer?.cancel()
            exchange.timer = nil
            exchange.headSentAt = nil
            exchange.requestComplete = { if case .none = exchange.head.framing { return true } else { return false } }()
            if let balancer = exchange.balancer, let next = balancer.next() {
                exchange.target = PoolKey(host: next.host, port: next.port)
            }
            phase = .connecting
            connectUpstream(exchange)
            return
        }
        failExchange(exchange, timedOut ? .gatewayTimeout : .badGateway)
    }

    private func failExchange(_ exchange: Exchange, _ error: GatewayError) {
        exchange.timer?.cancel()
        exchange.upstream?.abort()
        exchange.upstream = nil
        if exchange.responseStarted {
            // Part of the response is out already: the only honest signal left is closing.
            self.exchange = nil
            context.close(promise: nil)
            return
        }
        if !exchange.requestComplete { closeAfterResponse = true }
        self.exchange = nil
        respond(error, head: exchange.head, requestID: exchange.requestID, received: exchange.received, bodyPending: false)
    }

    // MARK: - Timeouts

    /// One timer per exchange enforces the service's write and read timeouts (time without progress).
    private func armExchangeTimer(_ exchange: Exchange) {
        exchange.timer?.cancel()
        let service = exchange.service
        let readTimeout = TimeAmount.milliseconds(Int64(service.readTimeout))
        let writeTimeout = TimeAmount.milliseconds(Int64(service.writeTimeout))
        let deadline: NIODeadline
        if let blocked = exchange.writeBlockedSince {
            deadline = min(blocked + writeTimeout, exchange.lastUpstreamActivity + readTimeout)
        } else {
            deadline = exchange.lastUpstreamActivity + readTimeout
        }
        exchange.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            guard self.exchange === exchange else { return }
            let now = NIODeadline.now()
            let writeExpired = exchange.writeBlockedSince.map { now >= $0 + writeTimeout } ?? false
            let readExpired = now >= exchange.lastUpstreamActivity + readTimeout
            if writeExpired || readExpired {
                exchange.upstream?.abort()
                exchange.upstream = nil
                if !exchange.responseStarted && readExpired && !writeExpired {
                    self.retryOrFail(exchange, timedOut: true)
                } else {
                    self.failExchange(exchange, .gatewayTimeout)
                }
            } else {
                self.armExchangeTimer(exchange)
            }
        }
    }

    // MARK: - 6. Finish

    private func finishExchange() {
        exchange?.timer?.cancel()
        exchange = nil
        lastActivity = .now()
        if closeAfterResponse {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: nil)
            context.close(promise: nil)
            phase = .closed
            return
        }
        context.flush()
        phase = .head
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
        exchange?.timer?.cancel()
        // Like nginx, a request that could not be understood ends the connection.
        if !head.keepAlive || error.status == 400 { closeAfterResponse = true }
        let body: BodyFraming = bodyPending ? head.framing : .none
        if case .length(let n) = body, n > 1 << 20 { closeAfterResponse = true }
        let latency = Int((NIODeadline.now() - received).nanoseconds / 1_000_000)
        var out = context.channel.allocator.buffer(capacity: 512)
        GatewayResponseWriter.write(
            error, requestID: requestID.description, accept: head.firstValue(of: .accept), isHEAD: head.isHEAD,
            keepAlive: !closeAfterResponse, date: loop.httpDate(), serverToken: loop.settings.serverToken,
            latencyMs: latency, into: &out)
        context.write(wrapOutboundOut(out), promise: nil)
        exchange = nil
        if case .none = body {
            finishExchange()
        } else if closeAfterResponse {
            finishExchange()
        } else {
            phase = .discarding(remaining: body, decoder: ChunkedDecoder())
            context.flush()
            discardBody()
        }
    }

    private func discardBody() {
        guard case .discarding(let remaining, var decoder) = phase else { return }
        switch remaining {
        case .length(let n):
            let take = min(n, inbound.readableBytes)
            inbound.moveReaderIndex(forwardBy: take)
            if n == take { finishExchange() } else { phase = .discarding(remaining: .length(n - take), decoder: decoder) }
        case .chunked:
            var dropped = 0
            do {
                try decoder.decode(&inbound) { dropped += $0.readableBytes }
            } catch {
                closeAfterResponse = true
                finishExchange()
                return
            }
            if decoder.isComplete { finishExchange() } else { phase = .discarding(remaining: .chunked, decoder: decoder) }
        case .none, .untilClose:
            finishExchange()
        }
    }

    private func respondToMalformed(_ error: HTTPParseError) {
        closeAfterResponse = true
        var out = context.channel.allocator.buffer(capacity: 256)
        let gatewayError = GatewayError(status: error.status, message: error.reason, plainByDefault: false)
        GatewayResponseWriter.write(
            gatewayError, requestID: loop.nextRequestID().description, accept: nil, isHEAD: false, keepAlive: false,
            date: loop.httpDate(), serverToken: loop.settings.serverToken, latencyMs: 0, into: &out)
        loop.stats.requestStarted()
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        context.close(promise: nil)
        phase = .closed
    }

    // MARK: - Idle connections

    private func armIdleTimer() {
        let timeout = loop.settings.clientIdleTimeout
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastActivity + timeout) {
            guard case .head = self.phase else {
                self.armIdleTimerLater()
                return
            }
            if NIODeadline.now() >= self.lastActivity + timeout {
                self.context.close(promise: nil)
            } else {
                self.armIdleTimer()
            }
        }
    }

    private func armIdleTimerLater() {
        lastActivity = .now()
        armIdleTimer()
    }
}

@available(*, unavailable)
extension ProxyHandler: Sendable {}

extension RequestHead: RouterHeaders {}
