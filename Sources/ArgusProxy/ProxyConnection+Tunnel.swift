import ArgusEvents
import ArgusHTTP
import ArgusSnapshot
import ArgusTransport
import NIOCore

/// A protocol upgrade (WebSocket) after the upstream's `101 Switching Protocols`: the 101 goes
/// to the client with its `Upgrade` and `Connection: upgrade`, then the two connections are a
/// byte tunnel both ways, with back-pressure (a side that does not read stops the other side's
/// reading) and half-closes passed on (a FIN from one side shuts the other's output). The
/// service's read timeout bounds a tunnel the upstream has sent nothing on (nginx's
/// `proxy_read_timeout`). The tunnel is one request event, published when it closes, with the
/// bytes each way; open tunnels are a gauge.
struct TunnelState {
    var bytesUp = 0
    var bytesDown = 0
    var clientEnded = false
    var upstreamEnded = false
    var lastUpstreamRead: NIODeadline
    let idleTimeout: TimeAmount
}

extension ProxyConnection {
    func startTunnel(_ head: ResponseHead) {
        guard let upstream, exchange != nil else { return }
        let now = upstream.lastReadAt
        trace.firstByteAt = now
        request.responseHead(status: head.status)
        let sentAt = request.headSentAt ?? exchange!.received
        var out = allocator.buffer(capacity: head.bytes.readableBytes + 256)
        ClientResponseWriter.write(
            head,
            .init(
                framing: .none, keepAlive: false, clientMinorVersion: 1, serverToken: loop.settings.serverToken,
                upstreamLatencyMs: Int((now - sentAt).nanoseconds / 1_000_000),
                proxyLatencyMs: Int((sentAt - exchange!.received).nanoseconds / 1_000_000), requestID: exchange!.requestID,
                pluginHeaders: exchange!.pluginHeaders,
                dropHeaders: ClientResponseWriter.dropped(nil, corsOwnsOrigin: exchange!.corsOwnsOrigin), upgrade: true),
            into: &out)
        trace.responseBytes += out.readableBytes
        writeToClient(out)
        flushClient()
        tunnel = TunnelState(lastUpstreamRead: now, idleTimeout: exchange!.plan.readTimeout)
        loop.stats.tunnelOpened()
        // bytes the client sent after its handshake already belong to the tunnel
        if inbound.readableBytes > 0 {
            let early = inbound
            inbound = ByteBuffer()
            tunnelUp(early)
        }
        resumeReading()
        ensureTimer(now + exchange!.plan.readTimeout)
    }

    /// Client → upstream.
    func tunnelUp(_ bytes: ByteBuffer) {
        guard let upstream, tunnel != nil else { return }
        tunnel!.bytesUp += bytes.readableBytes
        upstream.write(bytes)
        upstream.flush()
        if !upstream.isWritable { pauseReading() }
    }

    /// Upstream → client.
    func tunnelDown(_ bytes: ByteBuffer) {
        guard tunnel != nil else { return }
        tunnel!.bytesDown += bytes.readableBytes
        tunnel!.lastUpstreamRead = upstream?.lastReadAt ?? .now()
        writeToClient(bytes)
        if !transport.isWritable {
            upstream?.pauseReading()
            flushClient()
        }
    }

    /// The client sent its FIN: the upstream's output is shut once what is queued is written.
    func tunnelClientEnded() {
        tunnel?.clientEnded = true
        upstream?.shutdownOutput()
        if tunnel?.upstreamEnded == true { closeTunnel() }
    }

    /// The upstream sent its FIN: the client's output is shut likewise.
    func tunnelUpstreamEnded() {
        tunnel?.upstreamEnded = true
        flushClient()
        transport.shutdownOutput()
        if tunnel?.clientEnded == true { closeTunnel() }
    }

    /// The upstream went quiet for longer than the service's read timeout.
    func tunnelTimerFired() {
        guard let state = tunnel else { return }
        let due = state.lastUpstreamRead + state.idleTimeout
        if NIODeadline.now() >= due {
            closeTunnel()
        } else {
            ensureTimer(due)
        }
    }

    /// Ends the tunnel (either side closed, or it idled out): its event, then both connections closed.
    func closeTunnel() {
        guard tunnel != nil else { return }
        publishTunnel()
        upstream?.abort()
        upstream = nil
        exchange?.releasePick()
        exchange = nil
        transport.close()
    }

    /// The tunnel's one event: status 101, the bytes each way, received until now.
    func publishTunnel() {
        guard let state = tunnel else { return }
        tunnel = nil
        loop.stats.tunnelClosed()
        trace.requestBytes += state.bytesUp
        trace.responseBytes += state.bytesDown
        publish(status: 101, source: .upstream, decision: .none)
    }
}
