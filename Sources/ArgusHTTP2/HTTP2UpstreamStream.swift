import ArgusLoop
import ArgusTransport
import NIOCore
import NIOHPACK
import NIOHTTP2

/// One stream of an ``HTTP2ClientSession``: an exchange with a `grpc`/`grpcs` upstream, as the
/// byte stream an `UpstreamConnection` writes its HTTP/1.1 request to and reads the response
/// from (``MultiplexedStream``). The request written is framed by ``RequestTranslator``, the
/// response is synthesized as HTTP/1.1 by ``ResponseSynthesizer`` (its trailers in the chunked
/// body's trailer section).
///
/// Flow control is back-pressure both ways, as for a client's stream: response DATA the reader
/// has not taken is not credited, so the upstream's window closes; request DATA the upstream's
/// window holds back counts against ``isWritable``. Loop thread only.
public final class HTTP2UpstreamStream: MultiplexedStream {
    public let id: HTTP2StreamID
    let session: HTTP2ClientSession
    private var delegate: (any TCPConnectionDelegate)?

    // The request, outbound.
    private var translator: RequestTranslator
    /// DATA handed to the handler and not yet on the wire (waiting for the upstream's window).
    var unsent = 0
    private var awaitingWritable = false
    /// The request's end was sent (or the stream was reset).
    private var requestEnded = false

    // The response, inbound.
    private var synthesizer: ResponseSynthesizer?
    private var held: [(bytes: ByteBuffer, credit: Int)] = []
    private var reading = true
    private var started = false
    private var delivered = false
    /// The upstream ended its side (END_STREAM received).
    private var responseEnded = false
    private var uncredited = 0
    private(set) var closed = false

    static let highWatermark = 64 * 1024
    static let creditStep = 16 * 1024

    init(id: HTTP2StreamID, session: HTTP2ClientSession, scheme: String) {
        self.id = id
        self.session = session
        self.translator = RequestTranslator(scheme: scheme)
    }

    // MARK: - MultiplexedStream

    public var tcp: TCPConnection { session.transport.tcp }
    public var isOpen: Bool { !closed && session.transport.isOpen }
    public var isWritable: Bool {
        let writable = unsent < Self.highWatermark && session.transport.isWritable
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

    /// The request's bytes (HTTP/1.1, as written for any upstream).
    public func write(_ buffer: ByteBuffer) {
        guard !requestEnded, !closed else { return }
        do {
            try translator.feed(buffer) { send($0) }
        } catch {
            reset(.internalError)
            fail(HTTP2StreamReset(code: .internalError))
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

    /// The exchange is over for its reader (the response complete, or abandoned): a stream not
    /// ended both ways is reset (CANCEL: the response is no longer wanted, or the request will
    /// not be finished).
    public func close() {
        guard !closed else { return }
        if !(requestEnded && responseEnded) { reset(.cancel) }
        end(error: nil, deferred: true)
    }

    /// (A tunnel's half-close: streams carry no tunnels.)
    public func shutdownOutput() {}

    // MARK: - From the session

    func received(headers: HPACKHeaders, endStream: Bool) {
        if endStream { responseEnded = true }
        if synthesizer == nil { synthesizer = ResponseSynthesizer(requestWasHEAD: translator.isHEAD) }
        do {
            let bytes = try synthesizer!.headers(headers, endStream: endStream, allocator: session.allocator)
            if bytes.readableBytes > 0 { held.append((bytes, 0)) }
        } catch {
            reset(.protocolError)
            fail(HTTP2StreamReset(code: .protocolError))
            return
        }
        endIfComplete()
        deliver()
    }

    func received(data: ByteBuffer, flowControlled: Int, endStream: Bool) {
        if endStream { responseEnded = true }
        guard synthesizer != nil else {
            reset(.protocolError)
            fail(HTTP2StreamReset(code: .protocolError))
            return
        }
        do {
            if let bytes = try synthesizer!.data(data, endStream: endStream, allocator: session.allocator) {
                held.append((bytes, flowControlled))
            } else {
                uncredited += flowControlled
            }
        } catch {
            reset(.protocolError)
            fail(HTTP2StreamReset(code: .protocolError))
            return
        }
        endIfComplete()
        deliver()
    }

    /// The upstream reset the stream: after a whole response, with NO_ERROR, that only stops the
    /// request (RFC 9113 §8.1: it answered early); otherwise the exchange failed.
    func reset(by code: HTTP2ErrorCode) {
        if code == .noError, synthesizer?.isComplete == true {
            requestEnded = true
            responseEnded = true
            return
        }
        aborted(error: HTTP2StreamReset(code: code))
    }

    /// The upstream reset the stream, or the connection went: the reader hears it as a close.
    func aborted(error: any Error) {
        requestEnded = true
        responseEnded = true
        fail(error)
    }

    func writabilityMayHaveChanged() {
        guard awaitingWritable, !closed else { return }
        guard unsent < Self.highWatermark, session.transport.isWritable else {
            session.streamsAwaitWritable = true
            return
        }
        awaitingWritable = false
        delegate?.connectionBecameWritable(tcp)
    }

    /// The session's read is over: the reader hears it once it was given bytes.
    func readComplete() {
        guard delivered, !closed else { return }
        delivered = false
        delegate?.connectionReadComplete(tcp)
    }

    // MARK: - Inside

    private func deliver() {
        guard started, reading, !closed else { return }
        while reading, !closed, !held.isEmpty {
            let (bytes, credit) = held.removeFirst()
            uncredited += credit
            delivered = true
            delegate?.connection(tcp, read: bytes)
        }
        if cutOff && held.isEmpty && !closed {
            end(error: nil, deferred: false)
            return
        }
        if !responseEnded && !closed && uncredited >= Self.creditStep {
            session.credit(stream: id, uncredited)
            session.scheduleFlush()
            uncredited = 0
        }
    }

    /// The response ended without the whole of it (its body shorter than its length): once what
    /// came is delivered, the reader hears a close, as from a connection that broke mid-body.
    private func endIfComplete() {
        guard responseEnded, let synthesizer, !synthesizer.isComplete else { return }
        cutOff = true
    }

    private var cutOff = false

    private func send(_ part: RequestTranslator.Part) {
        switch part {
        case .headers(let headers, let endStream):
            if endStream { requestEnded = true }
            session.send(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: endStream))))
        case .data(let data, let endStream):
            if endStream { requestEnded = true }
            unsent += data.readableBytes
            session.send(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(data), endStream: endStream))))
        case .headBlock:
            // (only ResponseTranslator makes encoded heads, for clients; a request's head is fields)
            assertionFailure("a request translator made an encoded head")
            reset(.internalError)
        }
    }

    private func reset(_ code: HTTP2ErrorCode) {
        guard !(requestEnded && responseEnded) || code != .cancel else { return }
        requestEnded = true
        responseEnded = true
        session.reset(id, code)
    }

    private func fail(_ error: any Error) {
        end(error: error, deferred: false)
    }

    private func end(error: (any Error)?, deferred: Bool) {
        guard !closed else { return }
        closed = true
        held = []
        session.streamEnded(self)
        guard let delegate = self.delegate.take() else { return }
        let tcp = self.tcp
        if deferred {
            tcp.loop.assumeIsolated().execute { delegate.connectionClosed(tcp, error: error) }
        } else {
            delegate.connectionClosed(tcp, error: error)
        }
    }
}

@available(*, unavailable)
extension HTTP2UpstreamStream: Sendable {}
