import ArgusLoop
import ArgusTransport
import NIOCore

/// One connection to Redis: commands are pipelined (written without waiting) and replies are
/// matched to them in order. Lives on one event loop; every method must be called there. The
/// bytes travel over a ``Transport`` on an ``IOLoop`` (the data plane's loops: a rate-limiting
/// check never leaves the request's thread) or over a SwiftNIO channel (the control plane's).
final class RedisConnection: TCPConnectionDelegate {
    private struct Pending {
        var promise: EventLoopPromise<RESPValue>
        var deadline: NIODeadline
    }

    /// Where commands are written.
    enum Wire {
        case stream(Transport)
        case channel(any Channel)
    }

    let eventLoop: any EventLoop
    private var wire: Wire?
    private var inbound = ByteBuffer()
    private let parser = RESPParser()
    private var pending = CircularBuffer<Pending>()
    private var timer: Scheduled<Void>?
    private let timeout: TimeAmount
    private(set) var isOpen = true

    init(eventLoop: any EventLoop, timeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.timeout = timeout
    }

    /// The connection's bytes go over `wire` from now on.
    func attach(_ wire: Wire) {
        self.wire = wire
    }

    /// Commands sent and not answered yet.
    var inFlight: Int { pending.count }

    /// Sends one encoded command; the future completes with its reply (an error reply is a value).
    func send(_ command: ByteBuffer) -> EventLoopFuture<RESPValue> {
        guard isOpen, let wire else { return eventLoop.makeFailedFuture(RedisError.connectionClosed) }
        let promise = eventLoop.makePromise(of: RESPValue.self)
        let deadline = NIODeadline.now() + timeout
        pending.append(Pending(promise: promise, deadline: deadline))
        switch wire {
        case .stream(let transport): transport.writeAndFlush(command)
        case .channel(let channel): channel.writeAndFlush(command, promise: nil)
        }
        if timer == nil { arm(deadline) }
        return promise.futureResult
    }

    /// Bytes from the server: replies, completed in order.
    func received(_ bytes: ByteBuffer) {
        var bytes = bytes
        if inbound.readableBytes == 0 { inbound = bytes } else { inbound.writeBuffer(&bytes) }
        do {
            while let value = try parser.parse(&inbound) {
                guard let first = pending.popFirst() else {
                    fail(RedisError.protocolError("reply without a command"))
                    return
                }
                first.promise.succeed(value)
            }
        } catch {
            fail(RedisError.protocolError("\(error)"))
            return
        }
        if inbound.readableBytes == 0 { inbound = ByteBuffer() }
        if pending.isEmpty {
            timer?.cancel()
            timer = nil
        }
    }

    /// Fails every pending command and closes: after an error the pipeline can not be trusted.
    func fail(_ error: RedisError) {
        guard isOpen else { return }
        isOpen = false
        timer?.cancel()
        timer = nil
        while let p = pending.popFirst() { p.promise.fail(error) }
        switch wire {
        case .stream(let transport): transport.close()
        case .channel(let channel): channel.close(promise: nil)
        case nil: break
        }
    }

    func close() {
        fail(RedisError.connectionClosed)
    }

    private func arm(_ deadline: NIODeadline) {
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            guard let first = pending.first else { return }
            if first.deadline <= .now() {
                fail(RedisError.timeout)
            } else {
                arm(first.deadline)
            }
        }
    }

    // MARK: - A stream on an IOLoop

    func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        received(bytes)
    }

    func connectionReadEnded(_ connection: TCPConnection) {
        fail(RedisError.connectionClosed)
    }

    func connectionBecameWritable(_ connection: TCPConnection) {}

    func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        fail(RedisError.connectionClosed)
    }
}

@available(*, unavailable)
extension RedisConnection: Sendable {}

/// A connection's end of a SwiftNIO channel (the control plane's clients); the channel is
/// attached once connected.
final class RedisChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let connection: RedisConnection

    init(_ connection: RedisConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.fail(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.fail(RedisError.connectionClosed)
    }
}

@available(*, unavailable)
extension RedisChannelHandler: Sendable {}
