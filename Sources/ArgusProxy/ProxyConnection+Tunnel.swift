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
    /// The FIN passed on to the client has gone out (everything before it written).
    var clientOutputShut = false
    /// The last bytes either way (a heartbeat from either side keeps the tunnel).
    var lastActivity: NIODeadline
    let idleTimeout: TimeAmount
}

extension ProxyConnection {
    func startTunnel(_ head: ResponseHead) {
        guard let upstream, exchange != nil else { return }
        let now = upstream.lastReadAt
        let idleTimeout = exchange!.plan.readTimeout
        trace.firstByteAt = now
        request.responseHead(status: head.status)
        // the client's 101 (its Upgrade kept, Connection: upgrade), through the relay so that the
        // tunnel's log record has it
        writeResponseHead(head, upgrade: true)
        trace.responseBytes += relay.writePendingHead { writeToClient($0) }
        flushClient()
        // a write that failed at once closed the client connection (and ended the exchange)
        guard exchange != nil, transport.isOpen else { return }
        tunnel = TunnelState(lastActivity: now, idleTimeout: idleTimeout)
        loop.stats.tunnelOpened()
        // bytes the client sent after its handshake already belong to the tunnel
        if inbound.readableBytes > 0 {
            let early = inbound
            inbound = ByteBuffer()
            tunnelUp(early)
            guard tunnel != nil else { return }
        }
        if upstream.isWritable { resumeReading() }
        ensureTimer(now + idleTimeout)
    }

    /// Client → upstream.
    func tunnelUp(_ bytes: ByteBuffer) {
        guard let upstream, tunnel != nil else { return }
        tunnel!.bytesUp += bytes.readableBytes
        tunnel!.lastActivity = lastActivity
        upstream.write(bytes)
        upstream.flush()
        // (a flush that failed at once ended the tunnel)
        if tunnel != nil, !upstream.isWritable { pauseReading() }
    }

    /// Upstream → client.
    func tunnelDown(_ bytes: ByteBuffer) {
        guard tunnel != nil else { return }
        tunnel!.bytesDown += bytes.readableBytes
        tunnel!.lastActivity = upstream?.lastReadAt ?? .now()
        writeToClient(bytes)
        if !transport.isWritable {
            upstream?.pauseReading()
            flushClient()
        }
    }

    /// The client sent its FIN: the upstream's output is shut once what is queued is written.
    func tunnelClientEnded() {
        guard tunnel != nil else { return }
        tunnel!.clientEnded = true
        upstream?.shutdownOutput()
        if tunnel?.upstreamEnded == true { closeTunnel() }
    }

    /// The upstream sent its FIN: the client's output is shut likewise (the client may go on sending).
    func tunnelUpstreamEnded() {
        guard tunnel != nil else { return }
        tunnel!.upstreamEnded = true
        flushClient()
        transport.shutdownOutput()
        if tunnel?.clientEnded == true { closeTunnel() }
    }

    /// Neither side sent anything for longer than the service's read timeout.
    func tunnelTimerFired() {
        guard let state = tunnel else { return }
        let due = state.lastActivity + state.idleTimeout
        if NIODeadline.now() >= due {
            closeTunnel()
        } else {
            ensureTimer(due)
        }
    }

    /// Ends the tunnel (both sides ended, one closed, or it idled out): its event, the upstream
    /// closed, and the client's connection closed once what is queued for it is written.
    func closeTunnel() {
        guard let state = tunnel else { return }
        publishTunnel()
        upstream?.abort()
        upstream = nil
        exchange?.releasePick()
        exchange = nil
        if state.clientOutputShut {
            transport.close()
        } else {
            closeAfterFlush()
        }
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
