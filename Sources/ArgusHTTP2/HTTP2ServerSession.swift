import ArgusLoop
import ArgusTransport
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2

/// A client's HTTP/2 connection (h2 by ALPN, or h2c by prior knowledge), as a layer between its
/// transport and the request machinery. SwiftNIO's HTTP/2 handler runs in an `EmbeddedChannel`
/// that never touches a socket (as NIOSSL does in ``TLSTransport``): it owns the protocol — the
/// preface, SETTINGS, HPACK, stream states, flow-control accounting, GOAWAY — and its DoS
/// defences (rapid reset, CONTINUATION and control-frame floods, glitches). This class feeds it
/// the client's bytes, writes what it emits, and turns each new stream into an ``HTTP2Stream``
/// that `openStream` hands to a request connection of its own. Loop thread only.
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
        /// The longest response head the translator takes.
        public var maxHeadLength = 65536

        public init() {}
    }

    public var transport: Transport { wire.transport }
    let allocator = ByteBufferAllocator()
    private let limits: Limits
    private let wire: FrameWire
    private var sink: HTTP2Events { wire.events }
    private let counters: HTTP2Counters
    private let openStream: (HTTP2Stream) -> Void
    /// Told once, when the connection has closed.
    public var onClose: ((HTTP2ServerSession) -> Void)?

    private var streams: [HTTP2StreamID: HTTP2Stream] = [:]
    private var highestStream = HTTP2StreamID.rootStream
    private var connectionUncredited = 0
    private var quiescing = false
    private var peerWentAway = false
    private var closed = false
    private var outputShut = false
    /// A connection error was counted (what the handler reports after it is not).
    private var connectionFailed = false
    /// A close was asked for while a read was handled: it happens once that read's output is written.
    private var closeWhenFlushed = false
    /// A stream's writer found it unwritable: the streams are told when output drains.
    var streamsAwaitWritable = false
    private var idleTimer: Scheduled<Void>?
    private var lingerTimer: Scheduled<Void>?

    public init(transport: Transport, limits: Limits, counters: HTTP2Counters, openStream: @escaping (HTTP2Stream) -> Void) throws {
        self.limits = limits
        self.counters = counters
        self.openStream = openStream
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: 65535),
            HTTP2Setting(parameter: .maxFrameSize, value: 1 << 14),
            HTTP2Setting(parameter: .maxHeaderListSize, value: limits.maxHeaderListSize),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
        let emitted = Emitted()
        wire = try FrameWire(
            transport: transport, handler: NIOHTTP2Handler(mode: .server, frameDelegate: emitted, connectionConfiguration: configuration))
        emitted.session = self
        wire.flushed = { [unowned self] in self.afterFlush() }
    }

    /// Takes the connection over: sends the server preface, then reads `first` (what a sniffer
    /// read already) and what follows. The transport must be started already.
    public func start(first: ByteBuffer?) {
        counters.connectionOpened()
        transport.setDelegate(self)
        wire.activate()
        send(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: limits.connectionWindow - 65535)))
        flush()
        armIdleTimer()
        if let first, first.readableBytes > 0 { connection(transport.tcp, read: first) }
    }

    /// Open streams now.
    public var openStreams: Int { streams.count }

    // MARK: - Bytes in

    public func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        guard !closed else { return }
        handleEvents(wire.read(bytes))
        wire.readHandled()
        if closeWhenFlushed { closeGracefully() }
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
        idleTimer?.cancel()
        lingerTimer?.cancel()
        let open = Array(streams.values)
        streams = [:]
        for stream in open { stream.aborted(error: error ?? HTTP2ConnectionClosed()) }
        wire.close()
        counters.connectionClosed()
        onClose.take()?(self)
    }

    // MARK: - What NIOHTTP2 passed on

    private func handleEvents(_ events: [HTTP2Events.Event]) {
        // The handler's errors: one it answered with GOAWAY ends the connection (counted once,
        // what follows is not); the others reset one stream each.
        for event in events {
            switch event {
            case .frame(let frame): handle(frame)
            case .streamClosed(let id, let reason):
                guard let reason, let stream = streams[id] else { continue }
                stream.aborted(error: HTTP2StreamReset(code: reason))
            case .error(let error, let endsConnection):
                if endsConnection {
                    guard !connectionFailed else { continue }
                    connectionFailed = true
                    counters.connectionError(HTTP2Defence(error))
                } else if !connectionFailed {
                    counters.streamError(HTTP2Defence(error))
                }
            }
        }
        if connectionFailed && !outputShut {
            // GOAWAY is written: the streams are over, the connection closes once it is out.
            let open = Array(streams.values)
            for stream in open { stream.aborted(error: HTTP2ConnectionClosed()) }
            closeGracefully()
        }
    }

    private func handle(_ frame: HTTP2Frame) {
        let id = frame.streamID
        switch frame.payload {
        case .headers(let headers):
            if let stream = streams[id] {
                stream.received(trailers: headers.headers)
            } else {
                open(id, headers)
            }
        case .data(let data):
            let length = data.data.readableBytes
            let flowControlled = length + (data.paddingBytes.map { $0 + 1 } ?? 0)
            creditConnection(flowControlled)
            guard let stream = streams[id], case .byteBuffer(let bytes) = data.data else { return }
            stream.received(data: bytes, flowControlled: flowControlled, endStream: data.endStream)
        case .rstStream(let code):
            guard let stream = streams[id] else { return }
            counters.streamResetByClient()
            stream.aborted(error: HTTP2StreamReset(code: code))
        case .goAway:
            peerWentAway = true
            if streams.isEmpty { closeGracefully() }
        default:
            // SETTINGS, PING, PRIORITY: answered by the handler; WINDOW_UPDATE lets it send DATA it
            // held, and the flush after this read tells the streams that waited
            break
        }
    }

    private func open(_ id: HTTP2StreamID, _ headers: HTTP2Frame.FramePayload.Headers) {
        if id > highestStream { highestStream = id }
        let head: RequestSynthesizer.Head
        do {
            head = try RequestSynthesizer.head(headers.headers, endStream: headers.endStream, allocator: allocator)
        } catch {
            counters.streamError(.malformedRequest)
            send(HTTP2Frame(streamID: id, payload: .rstStream(.protocolError)))
            return
        }
        let stream = HTTP2Stream(id: id, session: self, head: head, endStream: headers.endStream, maxHeadLength: limits.maxHeadLength)
        streams[id] = stream
        counters.streamOpened()
        idleTimer?.cancel()
        idleTimer = nil
        openStream(stream)
    }

    // MARK: - From the streams

    func send(_ frame: HTTP2Frame) {
        guard !closed else { return }
        wire.send(frame)
    }

    /// Flushes at the end of the loop's current round (or of the read being handled).
    func scheduleFlush() { wire.scheduleFlush() }

    /// Writes what the handler emitted, unless a read is being handled (it flushes once at its end).
    func flush() { wire.flush() }

    private func afterFlush() {
        // DATA went out: a stream whose writer waited for its window may go on.
        notifyWritable()
        if wire.handlerClosed && !outputShut {
            // A connection error: NIOHTTP2 sent GOAWAY and closed its side.
            outputShut = true
            transport.shutdownOutput()
        }
    }

    /// Tells the streams whose writers found them unwritable (none: nothing to scan).
    private func notifyWritable() {
        guard streamsAwaitWritable else { return }
        streamsAwaitWritable = false
        for stream in streams.values { stream.writabilityMayHaveChanged() }
    }

    func credit(stream id: HTTP2StreamID, _ bytes: Int) {
        send(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: bytes)))
    }

    func resetByGateway(_ id: HTTP2StreamID, _ code: HTTP2ErrorCode) {
        counters.streamResetByGateway()
        send(HTTP2Frame(streamID: id, payload: .rstStream(code)))
        scheduleFlush()
    }

    func streamEnded(_ stream: HTTP2Stream) {
        guard streams[stream.id] === stream else { return }
        streams[stream.id] = nil
        guard streams.isEmpty else { return }
        if quiescing || peerWentAway { closeGracefully() } else { armIdleTimer() }
    }

    /// What the handler wrote: DATA lowers its stream's unsent bytes (it may be writable again); a
    /// GOAWAY with an error is the handler's answer to a connection error of the client's.
    fileprivate func emitted(_ frame: HTTP2Frame) {
        switch frame.payload {
        case .data(let data):
            streams[frame.streamID]?.unsent -= data.data.readableBytes
        case .goAway(_, let code, _) where code != .noError:
            sink.connectionErrorAnswered = true
        default:
            break
        }
    }

    private func creditConnection(_ bytes: Int) {
        connectionUncredited += bytes
        guard connectionUncredited >= limits.connectionWindow / 2 else { return }
        send(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: connectionUncredited)))
        connectionUncredited = 0
    }

    // MARK: - Ending

    /// Graceful shutdown: GOAWAY now, the connection closes once its streams are done.
    public func quiesce() {
        guard !closed, !quiescing else { return }
        quiescing = true
        send(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: highestStream, errorCode: .noError, opaqueData: nil)))
        flush()
        if streams.isEmpty { closeGracefully() }
    }

    public func forceClose() {
        transport.close()
    }

    private func closeGracefully() {
        guard !closed else { return }
        if wire.processing {
            // (what the read caused, a GOAWAY included, is written first)
            closeWhenFlushed = true
            return
        }
        if !quiescing {
            quiescing = true
            send(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: highestStream, errorCode: .noError, opaqueData: nil)))
        }
        flush()
        guard !outputShut else { return }
        outputShut = true
        transport.shutdownOutput()
    }

    private func armIdleTimer() {
        idleTimer?.cancel()
        idleTimer = transport.loop.assumeIsolated().scheduleTask(in: limits.idleTimeout) { [weak self] in
            guard let self, self.streams.isEmpty, !self.closed else { return }
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

/// Tells the session which DATA frames left the handler (past flow control).
private final class Emitted: NIOHTTP2FrameDelegate {
    weak var session: HTTP2ServerSession?
    func wroteFrame(_ frame: HTTP2Frame) { session?.emitted(frame) }
}

/// The end of the embedded pipeline: keeps, in order, the frames NIOHTTP2 let through, the
/// streams it closed, and its errors, for the session to handle once the handler is done.
final class HTTP2Events: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    enum Event {
        case frame(HTTP2Frame)
        case streamClosed(HTTP2StreamID, HTTP2ErrorCode?)
        /// `endsConnection`: the handler wrote a GOAWAY for it (NIOHTTP2 reports both kinds alike).
        case error(any Error, endsConnection: Bool)
    }

    private var pending: [Event] = []
    /// Set when the handler wrote a GOAWAY with an error code: the error it reports next is a connection error.
    var connectionErrorAnswered = false

    func take() -> [Event] {
        guard !pending.isEmpty else { return [] }
        defer { pending = [] }
        return pending
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(.frame(unwrapInboundIn(data)))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let closed = event as? StreamClosedEvent { pending.append(.streamClosed(closed.streamID, closed.reason)) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pending.append(.error(error, endsConnection: connectionErrorAnswered))
    }
}
