import ArgusLoop
import ArgusTransport
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2

/// An HTTP/2 connection to an upstream (a `grpc` service's h2c, or a `grpcs` service's TLS with
/// `h2` by ALPN), shared by the requests to that target on one event loop: each request is a
/// stream of its own (``HTTP2UpstreamStream``). As on the client side, SwiftNIO's HTTP/2 handler
/// owns the protocol in an `EmbeddedChannel` fed by Argus's own connection: the preface,
/// SETTINGS, HPACK, stream states and flow-control accounting. Loop thread only.
public final class HTTP2ClientSession: TCPConnectionDelegate {
    public struct Limits: Sendable {
        /// Streams this connection carries at most over its life (`upstream_keepalive_max_requests`).
        public var maxStreams = 1000
        /// The connection closes after this long without streams (`upstream_keepalive_idle_timeout`).
        public var idleTimeout = TimeAmount.seconds(60)
        /// The connection-level receive window.
        public var connectionWindow = 1 << 20
        /// SETTINGS_MAX_HEADER_LIST_SIZE announced to the upstream.
        public var maxHeaderListSize = 64 * 1024

        public init() {}
    }

    public let key: PoolKey
    var transport: Transport { wire.transport }
    let allocator = ByteBufferAllocator()
    private let limits: Limits
    private let wire: FrameWire
    let counters: HTTP2UpstreamCounters
    /// Told once, when the connection has closed.
    var onClose: ((HTTP2ClientSession) -> Void)?

    private var streams: [HTTP2StreamID: HTTP2UpstreamStream] = [:]
    private var nextStreamID: Int32 = 1
    private var opened = 0
    /// The upstream's SETTINGS_MAX_CONCURRENT_STREAMS (100 until it says, RFC 9113's suggestion).
    private var peerMaxStreams = 100
    private var connectionUncredited = 0
    /// GOAWAY received, an error, or the stream budget spent: no new streams.
    private(set) var draining = false
    private var closed = false
    var streamsAwaitWritable = false
    private var idleTimer: Scheduled<Void>?
    /// NIOHTTP2 answered an error of the upstream's with GOAWAY.
    private var protocolFailed = false
    private var failureHandled = false

    /// Takes over `transport` (connected, not started) and starts it: the preface and SETTINGS go
    /// out at once (a TLS connection sends them after its handshake).
    public init(key: PoolKey, transport: Transport, limits: Limits, counters: HTTP2UpstreamCounters) throws {
        self.key = key
        self.limits = limits
        self.counters = counters
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.initialSettings = [
            HTTP2Setting(parameter: .enablePush, value: 0),
            HTTP2Setting(parameter: .initialWindowSize, value: 65535),
            HTTP2Setting(parameter: .maxHeaderListSize, value: limits.maxHeaderListSize),
        ]
        let emitted = ClientEmitted()
        wire = try FrameWire(
            transport: transport, handler: NIOHTTP2Handler(mode: .client, frameDelegate: emitted, connectionConfiguration: configuration))
        emitted.session = self
        wire.flushed = { [unowned self] in self.notifyWritable() }
        transport.setDelegate(self)
        do {
            try transport.start()
        } catch {
            closed = true
            transport.close()
            throw error
        }
        counters.connectionOpened()
        wire.activate()
        send(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: limits.connectionWindow - 65535)))
        flush()
        armIdleTimer()
    }

    /// The connection can take another stream now.
    public var canOpenStream: Bool {
        !closed && !draining && transport.isOpen && streams.count < peerMaxStreams
    }

    public var isClosed: Bool { closed }

    /// A new stream for one request, or nil when the connection can not take one.
    public func openStream(requestWasHEAD: Bool = false) -> HTTP2UpstreamStream? {
        guard canOpenStream else { return nil }
        let id = HTTP2StreamID(nextStreamID)
        nextStreamID += 2
        opened += 1
        if opened >= limits.maxStreams || nextStreamID > Int32.max - 2 { draining = true }
        let stream = HTTP2UpstreamStream(id: id, session: self, scheme: key.tls == nil ? "http" : "https")
        streams[id] = stream
        counters.streamOpened()
        idleTimer?.cancel()
        idleTimer = nil
        return stream
    }

    // MARK: - Bytes in

    public func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        guard !closed else { return }
        handleEvents(wire.read(bytes))
        wire.readHandled()
        failIfBroken()
    }

    public func connectionReadComplete(_ connection: TCPConnection) {
        for stream in streams.values { stream.readComplete() }
    }

    public func connectionReadEnded(_ connection: TCPConnection) {
        transport.close()
    }

    public func connectionBecameWritable(_ connection: TCPConnection) {
        notifyWritable()
    }

    public func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        guard !closed else { return }
        closed = true
        draining = true
        idleTimer?.cancel()
        let open = Array(streams.values)
        streams = [:]
        for stream in open { stream.aborted(error: error ?? HTTP2ConnectionClosed()) }
        wire.close()
        counters.connectionClosed()
        onClose.take()?(self)
    }

    // MARK: - What NIOHTTP2 passed on

    private func handleEvents(_ events: [HTTP2Events.Event]) {
        for event in events {
            switch event {
            case .frame(let frame): handle(frame)
            case .streamClosed(let id, let reason):
                guard let reason, let stream = streams[id] else { continue }
                stream.reset(by: reason)
            case .error(let error, _):
                // A stream error of the upstream's (a bad header block): NIOHTTP2 reset the stream.
                switch error {
                case let streamError as NIOHTTP2Errors.StreamError:
                    streams[streamError.streamID]?.aborted(error: HTTP2StreamReset(code: .protocolError))
                case is NIOHTTP2Errors.NoSuchStream, is NIOHTTP2Errors.StreamClosed:
                    break  // a frame of Argus's for a stream the upstream ended already (an early answer)
                default:
                    // anything else breaks the connection (not HTTP/2 at all, a bad frame, bad SETTINGS)
                    protocolFailed = true
                }
            }
        }
    }

    /// After a read: a connection the upstream broke (NIOHTTP2 answered with GOAWAY, or could not
    /// read its bytes) fails every stream and closes.
    private func failIfBroken() {
        if protocolFailed && !failureHandled {
            failureHandled = true
            // The upstream broke the protocol: NIOHTTP2 wrote GOAWAY; every stream fails.
            counters.protocolError()
            draining = true
            let open = Array(streams.values)
            for stream in open { stream.aborted(error: HTTP2ConnectionClosed()) }
            flush()
            transport.close()
        }
    }

    private func handle(_ frame: HTTP2Frame) {
        let id = frame.streamID
        switch frame.payload {
        case .headers(let headers):
            streams[id]?.received(headers: headers.headers, endStream: headers.endStream)
        case .data(let data):
            let length = data.data.readableBytes
            let flowControlled = length + (data.paddingBytes.map { $0 + 1 } ?? 0)
            creditConnection(flowControlled)
            guard let stream = streams[id], case .byteBuffer(let bytes) = data.data else { return }
            stream.received(data: bytes, flowControlled: flowControlled, endStream: data.endStream)
        case .rstStream(let code):
            guard let stream = streams[id] else { return }
            counters.streamResetByUpstream()
            stream.reset(by: code)
        case .goAway(let lastStreamID, _, _):
            // Streams past the last one it will process never reached the upstream: they fail
            // before any response (a retry may send them elsewhere).
            draining = true
            for (streamID, stream) in streams where streamID > lastStreamID {
                stream.aborted(error: HTTP2ConnectionClosed())
            }
            if streams.isEmpty { transport.close() }
        case .settings(.settings(let settings)):
            for setting in settings where setting.parameter == .maxConcurrentStreams {
                peerMaxStreams = setting.value
            }
        default:
            break
        }
    }

    // MARK: - From the streams

    func send(_ frame: HTTP2Frame) {
        guard !closed else { return }
        wire.send(frame)
    }

    func scheduleFlush() { wire.scheduleFlush() }
    func flush() { wire.flush() }

    private func notifyWritable() {
        guard streamsAwaitWritable else { return }
        streamsAwaitWritable = false
        for stream in streams.values { stream.writabilityMayHaveChanged() }
    }

    func credit(stream id: HTTP2StreamID, _ bytes: Int) {
        send(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: bytes)))
    }

    /// Argus ends a stream early (the client went away, a timeout): RST_STREAM `code`.
    func reset(_ id: HTTP2StreamID, _ code: HTTP2ErrorCode) {
        counters.streamResetByGateway()
        send(HTTP2Frame(streamID: id, payload: .rstStream(code)))
        scheduleFlush()
    }

    func streamEnded(_ stream: HTTP2UpstreamStream) {
        guard streams[stream.id] === stream else { return }
        streams[stream.id] = nil
        guard streams.isEmpty else { return }
        if draining {
            scheduleFlush()
            let transport = self.transport
            transport.loop.assumeIsolated().execute { transport.close() }
        } else {
            armIdleTimer()
        }
    }

    fileprivate func emitted(_ frame: HTTP2Frame) {
        switch frame.payload {
        case .data(let data):
            streams[frame.streamID]?.unsent -= data.data.readableBytes
        case .goAway(_, let code, _) where code != .noError:
            protocolFailed = true
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

    /// Closes the connection: its streams fail (shutdown, or the pool letting it go).
    public func close() {
        guard !closed else { return }
        draining = true
        send(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .rootStream, errorCode: .noError, opaqueData: nil)))
        flush()
        transport.close()
    }

    private func armIdleTimer() {
        idleTimer?.cancel()
        idleTimer = transport.loop.assumeIsolated().scheduleTask(in: limits.idleTimeout) { [weak self] in
            guard let self, self.streams.isEmpty, !self.closed else { return }
            self.close()
        }
    }
}

@available(*, unavailable)
extension HTTP2ClientSession: Sendable {}

/// Tells the session which DATA frames left the handler (past the upstream's window).
private final class ClientEmitted: NIOHTTP2FrameDelegate {
    weak var session: HTTP2ClientSession?
    func wroteFrame(_ frame: HTTP2Frame) { session?.emitted(frame) }
}
