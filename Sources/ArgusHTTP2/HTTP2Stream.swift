import ArgusLoop
import ArgusTransport
import NIOCore
import NIOHPACK
import NIOHTTP2

/// One client stream of an ``HTTP2ServerSession``, as the byte stream the HTTP/1.1 request
/// machinery reads and writes (``MultiplexedStream``): the request arrives as an HTTP/1.1 head
/// and body (``RequestSynthesizer``), the response written is framed back (``ResponseTranslator``).
///
/// Flow control is back-pressure both ways: DATA the reader has not taken (it paused reading) is
/// held and not credited, so the client's window closes; the response's DATA waiting for the
/// client's window (in the session's machine) counts against ``isWritable``, so the writer pauses
/// its upstream. Loop thread only.
public final class HTTP2Stream: MultiplexedStream {
    public let id: Int
    /// (strong: the stream's reader may outlive the connection by a moment; the session drops its
    /// streams when they end, so no cycle outlives them)
    let session: HTTP2ServerSession
    private var delegate: (any TCPConnectionDelegate)?
    /// The end the reader hears of once the writer's own work is done (``runDeferred()``).
    private var deferredEnd: (delegate: any TCPConnectionDelegate, error: (any Error)?)?

    // The request, inbound.
    let framing: RequestSynthesizer.Framing
    /// Bytes for the reader, each with the flow-controlled bytes (DATA and padding) it stands for.
    private var held: [(bytes: ByteBuffer, credit: Int)] = []
    private var reading = true
    private var started = false
    /// The client ended its side (END_STREAM received).
    private(set) var requestEnded: Bool
    /// Flow-controlled bytes delivered and not yet given back to the client's window.
    private var uncredited = 0

    // The response, outbound.
    private var translator: ResponseTranslator
    /// The writer saw the stream unwritable: it hears when it is writable again.
    var awaitingWritable = false
    /// The response's end was sent (or the stream was reset): nothing more is written.
    private(set) var outputEnded = false
    /// The stream is over for the reader (its delegate heard `connectionClosed`, or will).
    private(set) var closed = false

    /// Above this much unsent DATA the stream is not writable.
    static let highWatermark = 64 * 1024
    /// Windows are credited back in steps of this size (none after the client's END_STREAM).
    static let creditStep = 16 * 1024

    init(id: Int, session: HTTP2ServerSession, head: RequestSynthesizer.Head, endStream: Bool, maxHeadLength: Int) {
        self.id = id
        self.session = session
        self.framing = head.framing
        self.requestEnded = endStream
        self.translator = ResponseTranslator(requestWasHEAD: head.isHEAD, maxHeadLength: maxHeadLength)
        held.append((head.bytes, 0))
    }

    // MARK: - MultiplexedStream

    public var tcp: TCPConnection { session.transport.tcp }
    public var isOpen: Bool { !closed && session.transport.isOpen }
    public var isWritable: Bool {
        let writable = session.pendingBytes(id) < Self.highWatermark && session.transport.isWritable
        if !writable {
            awaitingWritable = true
            session.streamsAwaitWritable = true
        }
        return writable
    }

    public func setDelegate(_ delegate: any TCPConnectionDelegate) {
        self.delegate = delegate
    }

    public func start() {
        started = true
        deliver()
    }

    public func write(_ buffer: ByteBuffer) {
        guard !outputEnded, !closed else { return }
        do {
            try translator.feed(buffer) { send($0) }
        } catch {
            reset(.internalError)
        }
    }

    public func flush() {
        session.scheduleFlush()
    }

    public func setReading(_ on: Bool) {
        guard reading != on else { return }
        reading = on
        if on { deliver() }
    }

    /// Cut off: a response not complete is reset (INTERNAL_ERROR, as nginx does when its upstream
    /// fails mid-body); a complete one has ended already.
    public func close() {
        guard !closed else { return }
        if !outputEnded { reset(.internalError) }
        session.scheduleFlush()
        endForReader(error: nil, deferred: true)
    }

    /// The response is whole: what ends it is sent, and the stream is over for the reader.
    public func shutdownOutput() {
        guard !closed else { return }
        if !outputEnded {
            do {
                try translator.finish { send($0) }
            } catch {
                reset(.internalError)
            }
        }
        session.scheduleFlush()
        endForReader(error: nil, deferred: true)
    }

    // MARK: - From the session

    /// DATA from the client: `flowControlled` counts padding too.
    func received(data: ByteBuffer, flowControlled: Int, endStream: Bool) {
        switch framing {
        case .chunked:
            if data.readableBytes > 0 {
                held.append((RequestSynthesizer.chunk(data, allocator: session.allocator), flowControlled))
            } else {
                uncredited += flowControlled
            }
            if endStream { held.append((RequestSynthesizer.lastChunk(trailers: nil, allocator: session.allocator), 0)) }
        case .length, .none:
            if data.readableBytes > 0 {
                held.append((data, flowControlled))
            } else {
                uncredited += flowControlled
            }
        }
        if endStream { requestEnded = true }
        deliver()
    }

    /// Trailers from the client: the end of the request.
    func received(trailers: HPACKHeaders) {
        if framing == .chunked { held.append((RequestSynthesizer.lastChunk(trailers: trailers, allocator: session.allocator), 0)) }
        requestEnded = true
        deliver()
    }

    /// The client reset the stream, or the connection went: the reader hears it now.
    func aborted(error: (any Error)?) {
        outputEnded = true
        endForReader(error: error, deferred: false)
    }

    /// The window opened or the connection drained: a writer that waited hears it.
    func writabilityMayHaveChanged() {
        guard awaitingWritable, !closed else { return }
        guard session.pendingBytes(id) < Self.highWatermark, session.transport.isWritable else {
            session.streamsAwaitWritable = true
            return
        }
        awaitingWritable = false
        delegate?.connectionBecameWritable(tcp)
    }

    // MARK: - Inside

    private func deliver() {
        guard started, reading, !closed else { return }
        while reading, !closed, !held.isEmpty {
            let (bytes, credit) = held.removeFirst()
            uncredited += credit
            delegate?.connection(tcp, read: bytes)
        }
        // The client's window gets back what the reader took, in steps (none after its END_STREAM).
        if !requestEnded && !closed && uncredited >= Self.creditStep {
            session.credit(stream: id, uncredited)
            uncredited = 0
        }
    }

    private func send(_ part: ResponseTranslator.Part) {
        switch part {
        case .headers(let headers, let endStream):
            if endStream { outputEnded = true }
            session.sendHeaders(id, headers, endStream: endStream)
        case .headBlock(let block, let endStream):
            if endStream { outputEnded = true }
            session.sendHeaderBlock(id, block, endStream: endStream)
        case .data(let data, let endStream):
            if endStream { outputEnded = true }
            session.sendData(id, data, endStream: endStream)
        }
        if outputEnded && !requestEnded {
            // The answer came before the whole request (an early 4xx): the client stops sending (RFC 9113 §8.1).
            session.endRequestEarly(id)
        }
    }

    private func reset(_ code: HTTP2ErrorCode) {
        guard !outputEnded else { return }
        outputEnded = true
        session.resetByGateway(id, code)
    }

    private func endForReader(error: (any Error)?, deferred: Bool) {
        guard !closed else { return }
        closed = true
        held = []
        session.streamEnded(self)
        guard let delegate = self.delegate.take() else { return }
        if deferred {
            // The writer is in the middle of its own work: it hears of the end once that is done.
            deferredEnd = (delegate, error)
            tcp.loop.executeDeferred(self)
        } else {
            delegate.connectionClosed(tcp, error: error)
        }
    }
}

extension HTTP2Stream: LoopDeferred {
    /// The deferred end of ``endForReader(error:deferred:)``, queued on the loop (no closure per stream).
    public func runDeferred() {
        guard let end = deferredEnd.take() else { return }
        end.delegate.connectionClosed(tcp, error: end.error)
    }
}

@available(*, unavailable)
extension HTTP2Stream: Sendable {}
