import ArgusSnapshot
import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusEvents
import ArgusHTTP
import ArgusLoop
import ArgusTransport
import NIOCore

/// 5–6. The gateway's own answers, the request's end (its event published, the next request
/// read, the rest of an answered body dropped, or a lingering close).
extension ProxyConnection {
    // MARK: - Gateway answers

    /// Answers with a gateway-made response. Any request body still to come is read and dropped
    /// (up to 1 MiB, else the connection closes) so the connection stays usable.
    /// - Parameter bodyPending: the request body (if any) is still unread in the connection.
    func answer(_ error: GatewayError, for head: RequestHead, requestID: RequestID, received: NIODeadline, bodyPending: Bool = true) {
        if error.status == 400 { connection.requestNotUnderstood() }
        // a body read whole by a plugin is not in the connection any more
        let unread: BodyFraming = bodyPending && !access.state.bodyRead ? head.framing : .none
        // The client waits for a 100 that will not come: it may never send the body, so do not wait for it.
        connection.answering(unread: unread, waitsForContinue: head.expectContinue && bodyPending)
        let now = NIODeadline.now()
        var out = allocator.buffer(capacity: 512)
        let grpc = transport.isStream && head.isGRPC
        GatewayResponseWriter.write(
            error, requestID: requestID.description, accept: head.firstValue(of: .accept), isHEAD: head.isHEAD,
            keepAlive: !connection.closeAfterResponse, date: loop.httpDate(), serverToken: loop.settings.serverToken,
            latencyMs: Int((now - received).nanoseconds / 1_000_000), grpc: grpc, into: &out)
        if grpc, let fields = GRPCAnswer.fields(for: error) { trace.grpcStatus = Int16(fields.status) }
        trace.responseBytes += out.readableBytes
        publish(status: error.status, source: .gateway, decision: error.decision, at: now, requestHead: head, responseHead: out)
        writeToClient(out)
        finishRequest(unread: unread)
    }

    /// Answers a request that never became one (malformed, or its head never completed) and closes.
    func respondAndClose(status: Int, message: String, decision: RequestDecision) {
        var out = allocator.buffer(capacity: 256)
        let requestID = loop.nextRequestID()
        GatewayResponseWriter.write(
            GatewayError(status: status, message: message, plainByDefault: false), requestID: requestID.description, accept: nil,
            isHEAD: false, keepAlive: false, date: loop.httpDate(), serverToken: loop.settings.serverToken, latencyMs: 0, into: &out)
        loop.stats.requestStarted()
        trace.start(receivedAt: lastActivity, requestID: requestID, method: .unknown, minorVersion: 1, headBytes: inbound.readableBytes)
        trace.recordsDetail = loop.snapshot().recordsUnmatchedDetail
        access = AccessPipeline()
        trace.responseBytes = out.readableBytes
        publish(status: status, source: .gateway, decision: decision, at: lastActivity)
        writeToClient(out)
        closeAfterFlush()
    }

    // MARK: - The request's end

    /// The request is over (its event published): its storage is kept for the next one, and the
    /// connection reads the next request, drops `unread` (the rest of an answered request's
    /// body), or closes. `recycle`: the head's storage is the parser's again (a relayed response).
    func finishRequest(unread: BodyFraming, recycle: Bool = false) {
        if var exchange = exchange.take() {
            exchange.releasePick()
            upstreamHeadScratch = exchange.upstreamHead
            if let lines = exchange.pluginHeaders.take() { pluginHeaderScratch = lines }
            if recycle { parser.recycle(exchange.head) }
        }
        upstream = nil
        routed = nil
        access.state.cache = nil  // a cache fetch this request started ends with it
        request.end()
        switch connection.requestEnded(unread: unread) {
        case .close:
            closeAfterFlush()
        case .readNext:
            readNextRequest()
        case .discard:
            flushClient()
            ensureTimer(lastActivity + loop.settings.clientIdleTimeout)
            drive()
        }
    }

    /// Back to waiting for a head; pipelined bytes already received are parsed now.
    func readNextRequest() {
        flushClient()
        ensureTimer(lastActivity + loop.settings.clientIdleTimeout)
        resumeReading()
        if inbound.readableBytes > 0 { drive() }
    }

    /// Closes once everything written so far is on the wire (a plain close would drop it).
    ///
    /// Then, like nginx's lingering close, the write side is shut and whatever the client still sends
    /// is read and dropped for a moment: closing with unread bytes would make the kernel answer with
    /// a reset that can destroy the response before the client reads it.
    func closeAfterFlush() {
        connection.closing()
        // (emptied without allocating: `clear()` would give a buffer still shared with the bytes
        // a read handed over new storage, once per HTTP/2 stream)
        inbound = ByteBuffer()
        clientUnflushed = false
        guard transport.isOpen else { return }  // a write that failed closed it already
        if transport.isStream {
            transport.shutdownOutput()  // the stream ends; its connection lingers, not the stream
            return
        }
        // A client that never reads must not hold the connection: bound the wait.
        let transport = self.transport
        lingerTimer = transport.loop.assumeIsolated().scheduleTask(in: loop.settings.clientIdleTimeout) { transport.close() }
        transport.shutdownOutput()  // → connectionOutputShut once everything is written
    }

    /// Everything is written and the FIN sent: read (and drop) what the client still sends, for up to 2 s.
    func connectionOutputShut(_ connection: TCPConnection) {
        // a tunnel's half-close: the client may go on sending (its own FIN ends the tunnel)
        if tunnel != nil {
            tunnel!.clientOutputShut = true
            return
        }
        resumeReading()
        lingerTimer?.cancel()
        let transport = self.transport
        lingerTimer = transport.loop.assumeIsolated().scheduleTask(in: .seconds(2)) { transport.close() }
    }

    // MARK: - The request's event

    /// Publishes the request's event on this loop's lane of the event ring (no lock, no allocation).
    /// When a log plugin applies to the request, its details (raw heads, upstream target, tries)
    /// are copied beside the event as bytes, for the log sinks to turn into records off the loop.
    /// - Parameter at: when the response completed, if the caller already read the clock.
    /// - Parameter requestHead: the request's head when there is no exchange (gateway answers).
    /// - Parameter responseHead: the response as written (head, maybe followed by body bytes), for
    ///   gateway answers; a proxied response's head is the last one written to the client.
    func publish(
        status: Int, source: ResponseSource, decision: RequestDecision, at: NIODeadline? = nil,
        requestHead: RequestHead? = nil, responseHead: ByteBuffer? = nil
    ) {
        guard trace.active else { return }
        let records = trace.recordsDetail
        var event = trace.finish(status: status, source: source, decision: decision, client: client.address, now: at ?? .now())
        if tls != nil { event.transport = ClientTransport.tls }
        guard records else {
            loop.events.publish(event)
            return
        }
        exchange?.recordTryStatus(request.status)
        let head = requestHead ?? exchange?.head
        let response = responseHead ?? (source == .upstream ? relay.writtenHead : nil)
        loop.publishWithDetail(
            event, requestHead: head?.bytes, upstreamHead: exchange?.upstreamHead, responseHead: response,
            tries: exchange?.tryLog ?? [], serverPort: listenerPort, credentialID: access.state.credentialID,
            correlationID: access.state.correlationID,
            tls: tls.map { RequestDetail.TLSFacts(version: $0.version, cipher: $0.cipher, serverName: $0.serverName) },
            grpcStatus: trace.grpcStatus >= 0 ? Int(trace.grpcStatus) : nil, trace: trace.traceIDs, responseLimits: trace.responseLimits)
    }
}
