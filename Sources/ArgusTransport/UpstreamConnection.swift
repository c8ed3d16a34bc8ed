import ArgusHTTP
import ArgusLoop
import Glibc
import NIOCore
import NIOSSL

/// What an upstream connection reports to the exchange using it. Every call happens on the
/// event loop both connections share.
public protocol UpstreamDelegate: AnyObject {
    func upstreamResponseHead(_ head: ResponseHead)
    func upstreamResponseBody(_ slice: ByteBuffer)
    /// Whether the whole request was written: only then may the connection be reused.
    var upstreamRequestComplete: Bool { get }
    /// The chunked body's trailer section (`name: value\r\n` lines), just before its end; not
    /// called when there are none.
    func upstreamResponseTrailers(_ lines: [UInt8])
    /// The response is complete (the connection is already back in the pool or closing).
    func upstreamResponseEnd()
    func upstreamReadComplete()
    func upstreamFailed(_ failure: UpstreamFailure)
    func upstreamWritabilityChanged(isWritable: Bool)
    /// A tunnel's upstream sent its FIN (it may still read what the client sends).
    func upstreamInputEnded()
}

/// Why an upstream exchange failed.
public enum UpstreamFailure: Error, Equatable {
    /// The connection closed or reset; `sawResponse` when part of a response had arrived,
    /// `reused` when the connection had served an earlier request (a stale keep-alive connection).
    case closed(sawResponse: Bool, reused: Bool)
    /// TLS failed (the handshake, the peer's certificate, a record): NIOSSL's description,
    /// whether the failure was the certificate's verification, and as for `closed`.
    case tls(String, verification: Bool, sawResponse: Bool, reused: Bool)
    case malformedResponse(HTTPParseError)
}

/// One keep-alive HTTP/1.1 connection to an upstream target (a ``Transport`` on the client's
/// loop: plain, or TLS for an `https` service): writes the request bytes it is given and parses
/// the response strictly, streaming the body to its delegate.
public final class UpstreamConnection: TCPConnectionDelegate {
    private enum State {
        case idle
        case awaitingHead(isHEAD: Bool)
        case length(remaining: Int)
        case chunked
        case untilClose
        /// After a `101 Switching Protocols` to an upgrade request: bytes both ways, unparsed,
        /// until either side closes; never back in the pool.
        case tunnel
    }

    public let key: PoolKey
    /// Strong: cleared when the exchange ends (finish, failure, abort), which breaks the cycle.
    var delegate: (any UpstreamDelegate)?
    var pool: UpstreamPool?
    private let transport: Transport
    private var state: State = .idle
    private var inbound = ByteBuffer()
    private var parser = ResponseHeadParser()
    private var chunkedDecoder = ChunkedDecoder(keepsTrailers: true)
    private var keepAlive = true
    private var sawResponseByte = false
    private var closed = false
    /// The current request asks for a protocol upgrade: a 101 turns the connection into a tunnel.
    private var upgrading = false
    public private(set) var requestsServed = 0
    var idleSince = NIODeadline.now()
    /// When the last bytes arrived (one clock read per read event, shared with the exchange).
    public private(set) var lastReadAt = NIODeadline.uptimeNanoseconds(0)
    /// True when this connection came from the pool for the current exchange.
    public private(set) var reused = false

    /// Takes over `transport` (connected; started here, with the TLS handshake for TLS). One made
    /// here over a stream of a multiplexed connection belongs to no pool: it serves one exchange.
    public init(key: PoolKey, transport: Transport) throws {
        self.key = key
        self.transport = transport
        transport.setDelegate(self)
        do {
            try transport.start()
            // Sending the ClientHello may already have failed (and closed the connection).
            guard isActive else { throw IOError(errnoCode: ECONNRESET, reason: "upstream connection closed at once") }
        } catch {
            closed = true  // (its close is not reported)
            transport.close()
            throw error
        }
    }

    public var isActive: Bool { !closed && transport.isActive }
    public var isWritable: Bool { transport.isWritable }

    // MARK: - Exchange side

    /// Starts an exchange: the caller writes the request next.
    public func begin(delegate: any UpstreamDelegate, isHEAD: Bool, upgrade: Bool = false) {
        self.delegate = delegate
        upgrading = upgrade
        reused = requestsServed > 0
        state = .awaitingHead(isHEAD: isHEAD)
        sawResponseByte = false
        keepAlive = true
        chunkedDecoder = ChunkedDecoder(keepsTrailers: true)
        requestsServed += 1
        resumeReading()
    }

    public func write(_ buffer: ByteBuffer) {
        transport.write(buffer)
    }

    public func flush() {
        transport.flush()
    }

    /// Abandons the exchange and closes the connection (client gone, timeout, error).
    public func abort() {
        delegate = nil
        state = .idle
        keepAlive = false
        close()
    }

    private func close() {
        transport.close()
    }

    /// A tunnel's client sent its FIN: passed on once what is queued is written.
    public func shutdownOutput() {
        transport.shutdownOutput()
    }

    /// The connection is a tunnel (after a 101).
    public var isTunnel: Bool {
        if case .tunnel = state { return true }
        return false
    }

    public func pauseReading() {
        transport.setReading(false)
    }

    public func resumeReading() {
        transport.setReading(true)
    }

    // MARK: - Connection events

    public func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        guard !closed else { return }
        if case .idle = state {
            // Bytes on an idle connection: the upstream broke framing; never reuse it.
            close()
            return
        }
        sawResponseByte = true
        lastReadAt = .now()
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeImmutableBuffer(bytes)
        }
        process()
    }

    public func connectionReadComplete(_ connection: TCPConnection) {
        guard !closed else { return }
        delegate?.upstreamReadComplete()
        // Let go of a consumed buffer (the loop's read buffer), so that the next read reuses it.
        if inbound.readableBytes == 0 { inbound = ByteBuffer() }
    }

    /// The upstream closed its side: as with NIO's default (no half-closure), the connection
    /// closes; a tunnel is half-closed (the client's bytes may still go the other way).
    public func connectionReadEnded(_ connection: TCPConnection) {
        if case .tunnel = state, !closed {
            delegate?.upstreamInputEnded()
            return
        }
        close()
    }

    public func connectionBecameWritable(_ connection: TCPConnection) {
        delegate?.upstreamWritabilityChanged(isWritable: true)
    }

    public func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        guard !closed else { return }
        closed = true
        inbound = ByteBuffer()
        pool?.remove(self)
        let delegate = self.delegate
        self.delegate = nil
        switch state {
        case .idle:
            break
        case .untilClose, .tunnel:
            state = .idle
            delegate?.upstreamResponseEnd()
        default:
            state = .idle
            if let error, let failure = TLSFailure(error) {
                delegate?.upstreamFailed(.tls(
                    failure.description, verification: failure.isVerification, sawResponse: sawResponseByte, reused: reused))
            } else {
                delegate?.upstreamFailed(.closed(sawResponse: sawResponseByte, reused: reused))
            }
        }
    }

    // MARK: - Response parsing

    /// Payload slices of one read of a chunked body, passed on once the read decoded cleanly.
    private var decodedChunks: [ByteBuffer] = []

    private func process() {
        while inbound.readableBytes > 0 {
            switch state {
            case .idle:
                return
            case .awaitingHead(let isHEAD):
                switch parser.parse(&inbound, requestWasHEAD: isHEAD) {
                case .needMore:
                    return
                case .informational:
                    continue
                case .error(let error):
                    fail(.malformedResponse(error))
                    return
                case .head(let head):
                    if head.status == 101 {
                        // Only an upgrade request may be switched (elsewhere Upgrade is not sent)
                        guard upgrading else {
                            fail(.malformedResponse(.badStatusLine))
                            return
                        }
                        state = .tunnel
                        keepAlive = false
                        pool?.remove(self)
                        delegate?.upstreamResponseHead(head)
                        parser.recycle(head.fields)
                        continue
                    }
                    keepAlive = head.keepAlive
                    switch head.framing {
                    case .none: state = .length(remaining: 0)
                    case .length(let n): state = .length(remaining: n)
                    case .chunked: state = .chunked
                    case .untilClose: state = .untilClose
                    }
                    delegate?.upstreamResponseHead(head)
                    parser.recycle(head.fields)
                    if case .length(0) = state {
                        finishResponse()
                        return
                    }
                }
            case .length(let remaining):
                let take = min(remaining, inbound.readableBytes)
                let slice = inbound.readSlice(length: take)!
                state = .length(remaining: remaining - take)
                delegate?.upstreamResponseBody(slice)
                if remaining == take {
                    finishResponse()
                    return
                }
            case .chunked:
                // Decode all that arrived before passing any of it on: when the framing breaks in
                // the read that also brought the head, the client has been sent nothing and gets a
                // clean 502 rather than the start of a response that ends in a reset.
                do {
                    try chunkedDecoder.decode(&inbound) { decodedChunks.append($0) }
                } catch {
                    decodedChunks.removeAll(keepingCapacity: true)
                    fail(.malformedResponse(error))
                    return
                }
                for slice in decodedChunks { delegate?.upstreamResponseBody(slice) }
                decodedChunks.removeAll(keepingCapacity: true)
                if chunkedDecoder.isComplete {
                    if !chunkedDecoder.trailerLines.isEmpty { delegate?.upstreamResponseTrailers(chunkedDecoder.trailerLines) }
                    finishResponse()
                }
                return
            case .untilClose, .tunnel:
                let slice = inbound.readSlice(length: inbound.readableBytes)!
                delegate?.upstreamResponseBody(slice)
            }
        }
    }

    private func fail(_ failure: UpstreamFailure) {
        let delegate = self.delegate
        self.delegate = nil
        state = .idle
        close()
        delegate?.upstreamFailed(failure)
    }

    private func finishResponse() {
        let delegate = self.delegate
        self.delegate = nil
        state = .idle
        let leftover = inbound.readableBytes > 0
        let requestComplete = delegate?.upstreamRequestComplete ?? false
        // Back to the pool first, so that a pipelined request the delegate starts next can use it.
        if keepAlive && !leftover && requestComplete, let pool, isActive {
            // Idle connections keep reading, so that a close by the upstream is noticed at once.
            resumeReading()
            pool.release(self)
        } else {
            close()
        }
        delegate?.upstreamResponseEnd()
    }
}

@available(*, unavailable)
extension UpstreamConnection: Sendable {}
