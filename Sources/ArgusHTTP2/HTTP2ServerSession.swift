import ArgusLoop
import ArgusTransport
import NIOCore
import NIOHPACK
import NIOHTTP2

/// A client's HTTP/2 connection (h2 by ALPN, or h2c by prior knowledge), as a layer between its
/// transport and the request machinery. The protocol — preface, SETTINGS, HPACK, stream states,
/// flow control, GOAWAY, the DoS defences — is the ``ServerConnectionMachine`` it feeds the
/// client's bytes to; this class writes what the machine emits (once per read handled or per loop
/// round), and turns each new stream into an ``HTTP2Stream`` that `openStream` hands to a
/// request connection of its own. Loop thread only.
public final class HTTP2ServerSession: TCPConnectionDelegate {
    public struct Limits: Sendable {
        /// SETTINGS_MAX_CONCURRENT_STREAMS (nginx: 128).
        public var maxConcurrentStreams = 128
        /// SETTINGS_MAX_HEADER_LIST_SIZE: the request head limit.
        public var maxHeaderListSize = 32 * 1024
        /// The connection-level receive window.
        public var connectionWindow = 1 << 20
        /// A connection without streams for this long is closed (GOAWAY, NO_ERROR).
        public var idleTimeout = TimeAmount.seconds(60)
        /// Response DATA waiting this long for the client's window, with none opened meanwhile,
        /// closes the connection (nginx's `send_timeout`).
        public var sendTimeout = TimeAmount.seconds(60)
        /// The longest response head the translator takes.
        public var maxHeadLength = 65536

        public init() {}
    }

    public let transport: Transport
    let allocator = ByteBufferAllocator()
    private let limits: Limits
    private var machine: ServerConnectionMachine
    private var events: [ServerConnectionMachine.Event] = []
    private let counters: HTTP2Counters
    private let openStream: (HTTP2Stream) -> Void
    /// Told once, when the connection has closed.
    public var onClose: ((HTTP2ServerSession) -> Void)?

    private var streams: [Int: HTTP2Stream] = [:]
    private var quiescing = false
    private var peerWentAway = false
    private var closed = false
    private var outputShut = false
    /// A read is being handled: writes wait for its end (one flush for all it caused).
    private var processing = false
    private var flushScheduled = false
    /// A close was asked for while a read was handled: it happens once that read's output is written.
    private var closeWhenFlushed = false
    /// A stream's writer found it unwritable: the streams are told when output drains.
    var streamsAwaitWritable = false
    /// The idle timer: armed once, and when it fires it checks how long the connection has been
    /// without streams (`idleSince`), so streams that come and go do not re-arm it each time.
    private var idleTimer: LoopTimer?
    private var idleSince: NIODeadline?
    /// Since when response DATA has waited for the client's window with none opened.
    private var stalledSince: NIODeadline?
    private var stallTimer: LoopTimer?
    private var lingerTimer: Scheduled<Void>?

    public init(transport: Transport, limits: Limits, counters: HTTP2Counters, openStream: @escaping (HTTP2Stream) -> Void) {
        self.transport = transport
        self.limits = limits
        self.counters = counters
        self.openStream = openStream
        var settings = ServerConnectionMachine.Settings()
        settings.maxConcurrentStreams = limits.maxConcurrentStreams
        settings.maxHeaderListSize = limits.maxHeaderListSize
        settings.connectionWindow = limits.connectionWindow
        machine = ServerConnectionMachine(settings: settings, allocator: allocator)
    }

    /// Takes the connection over: sends the server preface, then reads `first` (what a sniffer
    /// read already) and what follows. The transport must be started already.
    public func start(first: ByteBuffer?) {
        counters.connectionOpened()
        transport.setDelegate(self)
        machine.start()
        flush()
        armIdleTimer()
        if let first, first.readableBytes > 0 { connection(transport.tcp, read: first) }
    }

    /// Open streams now.
    public var openStreams: Int { streams.count }

    // MARK: - Bytes in

    public func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        guard !closed else { return }
        processing = true
        machine.receive(bytes, now: NIODeadline.now().uptimeNanoseconds, into: &events)
        // (what the events cause only writes to the machine, never adds events)
        for index in events.indices { handle(events[index]) }
        events.removeAll(keepingCapacity: true)
        processing = false
        flush()
        if closeWhenFlushed { closeGracefully() } else { checkIdle() }
    }

    public func connectionReadComplete(_ connection: TCPConnection) {}

    /// The client closed its side: an HTTP/2 client that does so is gone.
    public func connectionReadEnded(_ connection: TCPConnection) {
        transport.close()
    }

    public func connectionBecameWritable(_ connection: TCPConnection) {
        notifyWritable()
    }

    public func connectionOutputShut(_ connection: TCPConnection) {
        // GOAWAY is out: what the client still sends is dropped for a moment, then the connection closes.
        lingerTimer?.cancel()
        let transport = self.transport
        lingerTimer = transport.loop.assumeIsolated().scheduleTask(in: .seconds(2)) { transport.close() }
    }

    public func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        guard !closed else { return }
        closed = true
        if let idleTimer { transport.loop.cancelTimer(idleTimer) }
        if let stallTimer { transport.loop.cancelTimer(stallTimer) }
        lingerTimer?.cancel()
        let open = Array(streams.values)
        streams = [:]
        for stream in open { stream.aborted(error: error ?? HTTP2ConnectionClosed()) }
        counters.connectionClosed()
        onClose.take()?(self)
    }

    // MARK: - What the machine read

    private func handle(_ event: ServerConnectionMachine.Event) {
        switch event {
        case .request(let id, let headers, let endStream):
            open(id, headers, endStream: endStream)
        case .data(let id, let bytes, let flowControlled, let endStream):
            streams[id]?.received(data: bytes, flowControlled: flowControlled, endStream: endStream)
        case .trailers(let id, let headers):
            streams[id]?.received(trailers: headers)
        case .reset(let id, let code):
            guard let stream = streams[id] else { return }
            counters.streamResetByClient()
            stream.aborted(error: HTTP2StreamReset(code: code))
        case .streamError(let id, let defence):
            counters.streamError(defence)
            streams[id]?.aborted(error: HTTP2StreamReset(code: .protocolError))
        case .connectionError(let defence):
            // GOAWAY is written: the streams are over, the connection closes once it is out.
            counters.connectionError(defence)
            let open = Array(streams.values)
            for stream in open { stream.aborted(error: HTTP2ConnectionClosed()) }
            closeGracefully()
        case .peerWentAway:
            peerWentAway = true
        case .windowOpened:
            stalledSince = nil  // (progress; the flush after this read tells the streams that waited)
        }
    }

    private func open(_ id: Int, _ headers: HPACKHeaders, endStream: Bool) {
        let head: RequestSynthesizer.Head
        do {
            head = try RequestSynthesizer.head(headers, endStream: endStream, allocator: allocator)
        } catch {
            counters.streamError(.malformedRequest)
            machine.sendReset(stream: id, code: .protocolError)
            return
        }
        let stream = HTTP2Stream(id: id, session: self, head: head, endStream: endStream, maxHeadLength: limits.maxHeadLength)
        streams[id] = stream
        counters.streamOpened()
        idleSince = nil
        openStream(stream)
    }

    // MARK: - From the streams

    func sendHeaders(_ id: Int, _ headers: HPACKHeaders, endStream: Bool) {
        guard !closed else { return }
        machine.sendHeaders(stream: id, headers, endStream: endStream)
    }

    func sendHeaderBlock(_ id: Int, _ block: ByteBuffer, endStream: Bool) {
        guard !closed else { return }
        machine.sendHeaderBlock(stream: id, block, endStream: endStream)
    }

    func sendData(_ id: Int, _ data: ByteBuffer, endStream: Bool) {
        guard !closed else { return }
        machine.sendData(stream: id, data, endStream: endStream)
    }

    /// The response ended before the request's body: the client may stop sending it (NO_ERROR).
    func endRequestEarly(_ id: Int) {
        guard !closed else { return }
        machine.sendReset(stream: id, code: .noError)
    }

    /// Response bytes of a stream still waiting for the client's window.
    func pendingBytes(_ id: Int) -> Int { machine.pendingBytes(stream: id) }

    func credit(stream id: Int, _ bytes: Int) {
        machine.creditStream(id, bytes)
    }

    func resetByGateway(_ id: Int, _ code: HTTP2ErrorCode) {
        guard !closed else { return }
        counters.streamResetByGateway()
        machine.sendReset(stream: id, code: code)
        scheduleFlush()
    }

    func streamEnded(_ stream: HTTP2Stream) {
        guard streams[stream.id] === stream else { return }
        streams[stream.id] = nil
        checkIdle()
    }

    /// No stream is open, on either side (a response's tail may still wait for the client's
    /// window in the machine after its stream ended for the data path): a connection going away
    /// closes now, another one starts counting its idle time.
    private func checkIdle() {
        guard !closed, streams.isEmpty, machine.openStreams == 0 else { return }
        if quiescing || peerWentAway {
            closeGracefully()
        } else if idleSince == nil {
            armIdleTimer()
        }
    }

    /// Flushes at the end of the loop's current round (or of the read being handled): the
    /// streams that end in one round share one write.
    func scheduleFlush() {
        guard !processing, !flushScheduled, !closed else { return }
        flushScheduled = true
        transport.loop.executeDeferred(self)
    }

    /// Writes what the machine emitted, unless a read is being handled (it flushes once at its end).
    func flush() {
        guard !processing, !closed else { return }
        var buffers = machine.takeOutput()
        if !buffers.isEmpty {
            for buffer in buffers { transport.write(buffer) }
            transport.flush()
            machine.recycleOutput(&buffers)
        }
        if machine.pendingTotal == 0 {
            stalledSince = nil
        } else if stalledSince == nil {
            let now = NIODeadline.now()
            stalledSince = now
            if stallTimer == nil { scheduleStallCheck(at: now + limits.sendTimeout) }
        }
        // DATA went out: a stream whose writer waited for its window may go on.
        notifyWritable()
    }

    /// Tells the streams whose writers found them unwritable (none: nothing to scan).
    private func notifyWritable() {
        guard streamsAwaitWritable else { return }
        streamsAwaitWritable = false
        for stream in streams.values { stream.writabilityMayHaveChanged() }
    }

    // MARK: - Ending

    /// Graceful shutdown: GOAWAY now, the connection closes once its streams are done.
    public func quiesce() {
        guard !closed, !quiescing else { return }
        quiescing = true
        machine.goAway()
        flush()
        checkIdle()
    }

    public func forceClose() {
        transport.close()
    }

    private func closeGracefully() {
        guard !closed else { return }
        if processing {
            // (what the read caused, a GOAWAY included, is written first)
            closeWhenFlushed = true
            return
        }
        quiescing = true
        machine.goAway()  // (none if one went out: NO_ERROR, or the error's)
        flush()
        guard !outputShut else { return }
        outputShut = true
        transport.shutdownOutput()
    }

    private func armIdleTimer() {
        let now = NIODeadline.now()
        idleSince = now
        if idleTimer == nil { scheduleIdleCheck(at: now + limits.idleTimeout) }
    }

    private func scheduleStallCheck(at deadline: NIODeadline) {
        stallTimer = transport.loop.scheduleTimer(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.stallTimer = nil
            guard !self.closed, let since = self.stalledSince else { return }
            let due = since + self.limits.sendTimeout
            if due > .now() { return self.scheduleStallCheck(at: due) }
            self.counters.connectionError(.sendTimeout)
            self.forceClose()
        }
    }

    private func scheduleIdleCheck(at deadline: NIODeadline) {
        idleTimer = transport.loop.scheduleTimer(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.idleTimer = nil
            guard !self.closed, self.streams.isEmpty, self.machine.openStreams == 0, let since = self.idleSince else { return }
            let due = since + self.limits.idleTimeout
            if due > .now() { return self.scheduleIdleCheck(at: due) }
            self.counters.closedIdle()
            self.closeGracefully()
        }
    }
}

@available(*, unavailable)
extension HTTP2ServerSession: Sendable {}

/// The client reset the stream (or NIOHTTP2 did, for an error of the client's).
public struct HTTP2StreamReset: Error, Sendable {
    public var code: HTTP2ErrorCode
}

/// The connection a stream was carried on closed.
public struct HTTP2ConnectionClosed: Error, Sendable {}

extension HTTP2ServerSession: LoopDeferred {
    /// The flush ``scheduleFlush()`` queued (on the loop, without a closure per flush).
    public func runDeferred() {
        flushScheduled = false
        flush()
    }
}
