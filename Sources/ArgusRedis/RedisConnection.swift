import NIOCore

/// One connection to Redis: commands are pipelined (written without waiting) and replies are
/// matched to them in order. Lives on one event loop; every method must be called there.
final class RedisConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var promise: EventLoopPromise<RESPValue>
        var deadline: NIODeadline
    }

    private var context: ChannelHandlerContext?
    private var inbound = ByteBuffer()
    private let parser = RESPParser()
    private var pending = CircularBuffer<Pending>()
    private var timer: Scheduled<Void>?
    private let timeout: TimeAmount
    private(set) var isOpen = true

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    /// Commands sent and not answered yet.
    var inFlight: Int { pending.count }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Sends one encoded command; the future completes with its reply (an error reply is a value).
    func send(_ command: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<RESPValue> {
        guard isOpen, let context else { return loop.makeFailedFuture(RedisError.connectionClosed) }
        let promise = loop.makePromise(of: RESPValue.self)
        let deadline = NIODeadline.now() + timeout
        pending.append(Pending(promise: promise, deadline: deadline))
        context.writeAndFlush(NIOAny(command), promise: nil)
        if timer == nil { arm(deadline) }
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
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

    func channelInactive(context: ChannelHandlerContext) {
        fail(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(RedisError.connectionClosed)
    }

    /// Fails every pending command and closes: after an error the pipeline can not be trusted.
    func fail(_ error: RedisError) {
        isOpen = false
        timer?.cancel()
        timer = nil
        while let p = pending.popFirst() { p.promise.fail(error) }
        context?.close(promise: nil)
    }

    func close() {
        fail(RedisError.connectionClosed)
    }

    private func arm(_ deadline: NIODeadline) {
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            guard let first = pending.first else { return }
            if first.deadline <= .now() {
                fail(RedisError.timeout)
            } else {
                arm(first.deadline)
            }
        }
    }
}

@available(*, unavailable)
extension RedisConnection: Sendable {}
