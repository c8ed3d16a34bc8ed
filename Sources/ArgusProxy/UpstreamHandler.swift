import ArgusHTTP
import NIOCore

/// What an upstream connection reports to the exchange using it. Every call happens on the
/// event loop both connections share.
protocol UpstreamDelegate: AnyObject {
    func upstreamResponseHead(_ head: ResponseHead)
    func upstreamResponseBody(_ slice: ByteBuffer)
    /// Whether the whole request was written: only then may the connection be reused.
    var upstreamRequestComplete: Bool { get }
    /// The response is complete (the connection is already back in the pool or closing).
    func upstreamResponseEnd()
    func upstreamReadComplete()
    func upstreamFailed(_ failure: UpstreamFailure)
    func upstreamWritabilityChanged(isWritable: Bool)
}

/// Why an upstream exchange failed.
enum UpstreamFailure: Error, Equatable {
    /// The connection closed or reset; `sawResponse` when part of a response had arrived,
    /// `reused` when the connection had served an earlier request (a stale keep-alive connection).
    case closed(sawResponse: Bool, reused: Bool)
    case malformedResponse(HTTPParseError)
}

/// One keep-alive connection to an upstream target: writes request bytes it is given and parses
/// the response strictly, streaming the body to its delegate.
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case awaitingHead(isHEAD: Bool)
        case length(remaining: Int)
        case chunked
        case untilClose
    }

    let key: PoolKey
    /// Strong: cleared when the exchange ends (finish, failure, abort), which breaks the cycle.
    var delegate: (any UpstreamDelegate)?
    var pool: UpstreamPool?
    private(set) var context: ChannelHandlerContext?
    private var state: State = .idle
    private var inbound = ByteBuffer()
    private var parser = ResponseHeadParser()
    private var chunkedDecoder = ChunkedDecoder()
    private var keepAlive = true
    private var sawResponseByte = false
    private var readPaused = false
    private var pendingRead = false
    private(set) var requestsServed = 0
    var idleSince = NIODeadline.now()
    /// When the last bytes arrived (one clock read per read event, shared with the exchange).
    private(set) var lastReadAt = NIODeadline.uptimeNanoseconds(0)
    /// True when this connection came from the pool for the current exchange.
    private(set) var reused = false

    init(key: PoolKey) {
        self.key = key
    }

    var isActive: Bool { context?.channel.isActive ?? false }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: - Exchange side

    /// Starts an exchange: the caller writes the request next.
    func begin(delegate: any UpstreamDelegate, isHEAD: Bool) {
        self.delegate = delegate
        reused = requestsServed > 0
        state = .awaitingHead(isHEAD: isHEAD)
        sawResponseByte = false
        keepAlive = true
        chunkedDecoder = ChunkedDecoder()
        requestsServed += 1
        resumeReading()
    }

    func write(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    /// Abandons the exchange and closes the connection (client gone, timeout, error).
    func abort() {
        delegate = nil
        state = .idle
        keepAlive = false
        context?.close(promise: nil)
    }

    func pauseReading() {
        readPaused = true
    }

    func resumeReading() {
        guard readPaused else { return }
        readPaused = false
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    // MARK: - Channel events

    func read(context: ChannelHandlerContext) {
        if readPaused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if case .idle = state {
            // Bytes on an idle connection: the upstream broke framing; never reuse it.
            context.close(promise: nil)
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

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
        // Let go of a consumed receive buffer, so that NIO's pool can reuse it for the next read.
        if inbound.readableBytes == 0 { inbound = ByteBuffer() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pool?.remove(self)
        let delegate = self.delegate
        self.delegate = nil
        switch state {
        case .idle:
            break
        case .untilClose:
            state = .idle
            delegate?.upstreamResponseEnd()
        default:
            state = .idle
            delegate?.upstreamFailed(.closed(sawResponse: sawResponseByte, reused: reused))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
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
                        // Protocol upgrades are not proxied (Upgrade is stripped): a 101 is a broken upstream.
                        fail(.malformedResponse(.badStatusLine))
                        return
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
                    finishResponse()
                }
                return
            case .untilClose:
                let slice = inbound.readSlice(length: inbound.readableBytes)!
                delegate?.upstreamResponseBody(slice)
            }
        }
    }

    private func fail(_ failure: UpstreamFailure) {
        let delegate = self.delegate
        self.delegate = nil
        state = .idle
        context?.close(promise: nil)
        delegate?.upstreamFailed(failure)
    }

    private func finishResponse() {
        let delegate = self.delegate
        self.delegate = nil
        state = .idle
        let leftover = inbound.readableBytes > 0
        let requestComplete = delegate?.upstreamRequestComplete ?? false
        // Back to the pool first, so that a pipelined request the delegate starts next can use it.
        if keepAlive && !leftover && requestComplete, let pool, context != nil {
            // Idle connections keep reading, so that a close by the upstream is noticed at once.
            resumeReading()
            pool.release(self)
        } else {
            context?.close(promise: nil)
        }
        delegate?.upstreamResponseEnd()
    }
}

@available(*, unavailable)
extension UpstreamHandler: Sendable {}
