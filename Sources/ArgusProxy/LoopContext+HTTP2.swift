import ArgusHTTP2
import ArgusTransport
import NIOCore

extension LoopContext {
    /// Serves a client connection that speaks HTTP/2: each stream becomes a `ProxyConnection` of
    /// its own over the stream (one request each), with the routing, plugins, events and answers of
    /// any other request. The connection counts once in the connection counters, as in nginx.
    func startHTTP2(_ transport: Transport, listenerPort: Int, tls: TLSSessionFacts?, first: ByteBuffer?, client known: ClientFacts? = nil) {
        var limits = HTTP2ServerSession.Limits()
        limits.maxHeaderListSize = settings.maxHeadLength
        limits.idleTimeout = settings.clientIdleTimeout
        limits.sendTimeout = settings.clientIdleTimeout  // (nginx's send_timeout; one setting with the others, as for HTTP/1.1)
        limits.maxHeadLength = settings.maxHeadLength
        // The connection's facts, once for all its streams.
        let client = known ?? ClientFacts(transport.remoteAddress, settings: settings, secure: tls != nil, listenerPort: listenerPort)
        let session = HTTP2ServerSession(transport: transport, limits: limits, counters: stats.http2) { [unowned self] stream in
            ProxyConnection(loop: self, listenerPort: listenerPort, transport: .stream(stream), tls: tls).start(client: client)
        }
        let key = ObjectIdentifier(session)
        http2Sessions[key] = session
        stats.connectionOpened()
        session.onClose = { [unowned self] _ in
            if self.http2Sessions.removeValue(forKey: key) != nil { self.stats.connectionClosed() }
            self.checkDrained()
        }
        session.start(first: first)
        if quiescing { session.quiesce() }
    }
}
