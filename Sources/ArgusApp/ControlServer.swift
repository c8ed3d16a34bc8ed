import ArgusHTTP
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A request to the admin or status listener (GET endpoints; bodies are not read yet).
public struct ControlRequest: Sendable {
    public var method: String
    public var path: String
    public var query: String
}

public struct ControlResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: String

    public static func json(_ status: Int, _ body: String) -> ControlResponse {
        ControlResponse(status: status, contentType: "application/json; charset=utf-8", body: body)
    }
}

/// A small HTTP/1.1 server for the admin and status listeners, using the proxy's strict parser.
final class ControlServer: Sendable {
    typealias Responder = @Sendable (ControlRequest) -> ControlResponse
    private let channel: NIOLockedValueBox<(any Channel)?> = NIOLockedValueBox(nil)

    func bind(group: any EventLoopGroup, address: ListenAddress, responder: @escaping Responder) async throws -> SocketAddress {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ControlHandler(responder: responder))
                }
            }
            .bind(host: address.host, port: address.port).get()
        self.channel.withLockedValue { $0 = channel }
        return channel.localAddress!
    }

    func close() async {
        let channel = self.channel.withLockedValue { $0 }
        try? await channel?.close()
    }
}

private final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let responder: ControlServer.Responder
    private var parser = RequestHeadParser()
    private var inbound = ByteBuffer()

    init(responder: @escaping ControlServer.Responder) {
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inbound.writeImmutableBuffer(unwrapInboundIn(data))
        while true {
            switch parser.parse(&inbound) {
            case .needMore:
                return
            case .error(let error):
                write(context, .json(error.status, "{\"message\":\"\(error.reason)\"}"), keepAlive: false, isHEAD: false)
                return
            case .head(let head):
                let response: ControlResponse
                if case .none = head.framing {
                    let query = head.string(head.query)
                    response = responder(
                        ControlRequest(method: head.methodString, path: head.string(head.path), query: String(query.dropFirst())))
                } else {
                    response = .json(405, "{\"message\":\"Method not allowed\"}")
                }
                let keepAlive = head.keepAlive && head.framing == .none
                write(context, response, keepAlive: keepAlive, isHEAD: head.isHEAD)
                if !keepAlive { return }
            }
        }
    }

    private func write(_ context: ChannelHandlerContext, _ response: ControlResponse, keepAlive: Bool, isHEAD: Bool) {
        var out = context.channel.allocator.buffer(capacity: response.body.utf8.count + 160)
        out.writeString("HTTP/1.1 \(response.status) \(response.status < 400 ? "OK" : "Error")\r\n")
        out.writeString("Content-Type: \(response.contentType)\r\nContent-Length: \(response.body.utf8.count)\r\n")
        out.writeString(keepAlive ? "\r\n" : "Connection: close\r\n\r\n")
        if !isHEAD { out.writeString(response.body) }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        if !keepAlive { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ControlHandler: Sendable {}
