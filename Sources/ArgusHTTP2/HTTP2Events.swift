import NIOCore
import NIOHTTP2

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
