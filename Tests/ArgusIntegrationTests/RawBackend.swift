import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A scripted upstream on 127.0.0.1:0 that records the raw bytes of every request head it gets
/// and answers each with whatever `respond` returns (raw bytes, so tests can send malformed ones).
final class RawBackend: Sendable {
    struct Reply: Sendable {
        var bytes: String
        var closeAfter: Bool = false
        var delayMs: Int = 0
    }

    let group: MultiThreadedEventLoopGroup
    private let channel: NIOLockedValueBox<(any Channel)?> = .init(nil)
    private let received = NIOLockedValueBox<[String]>([])
    private let bodies = NIOLockedValueBox<[Int]>([])
    private let connections = NIOLockedValueBox(0)
    private let children = NIOLockedValueBox<[any Channel]>([])
    let respond: @Sendable (String) -> Reply

    init(respond: @escaping @Sendable (String) -> Reply) {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.respond = respond
    }

    /// Answers 200 with a small body to everything.
    static func ok(body: String = "hello") -> RawBackend {
        RawBackend { _ in Reply(bytes: "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nX-Backend: raw\r\n\r\n\(body)") }
    }

    func start(port: Int = 0, host: String = "127.0.0.1") async throws -> Int {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    self.connections.withLockedValue { $0 += 1 }
                    self.children.withLockedValue { $0.append(channel) }
                    try channel.pipeline.syncOperations.addHandler(RawBackendHandler(backend: self))
                }
            }
            .bind(host: host, port: port).get()
        self.channel.withLockedValue { $0 = channel }
        return channel.localAddress!.port!
    }

    /// Goes away like a killed process: the listener and every open connection close (the
    /// backend can `start(port:)` again on the same port).
    func kill() async {
        let channel = self.channel.withLockedValue { $0.take() }
        try? await channel?.close()
        let open = children.withLockedValue { list in
            defer { list.removeAll() }
            return list
        }
        for child in open { try? await child.close() }
    }

    func stop() async {
        let channel = self.channel.withLockedValue { $0 }
        try? await channel?.close()
        try? await group.shutdownGracefully()
    }

    var requests: [String] { received.withLockedValue { $0 } }
    var bodySizes: [Int] { bodies.withLockedValue { $0 } }
    /// Each request's body as text (de-chunked).
    var bodyTexts: [String] { texts.withLockedValue { $0 } }
    private let texts = NIOLockedValueBox<[String]>([])
    var connectionCount: Int { connections.withLockedValue { $0 } }

    func record(head: String, bodyBytes: Int, body: [UInt8] = []) {
        received.withLockedValue { $0.append(head) }
        bodies.withLockedValue { $0.append(bodyBytes) }
        texts.withLockedValue { $0.append(String(decoding: body, as: UTF8.self)) }
    }
}

/// Reads a request head, then its body by Content-Length or chunked framing (counting bytes), then replies.
private final class RawBackendHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let backend: RawBackend
    var buffer = ByteBuffer()
    var head: String?
    var bodyRemaining = 0
    var chunked = false
    var bodyBytes = 0
    var body: [UInt8] = []

    init(backend: RawBackend) { self.backend = backend }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        buffer.writeImmutableBuffer(unwrapInboundIn(data))
        process(context)
    }

    private func process(_ context: ChannelHandlerContext) {
        while true {
            if head == nil {
                let text = String(buffer: buffer)
                guard let end = text.range(of: "\r\n\r\n") else { return }
                let headText = String(text[..<end.lowerBound])
                buffer.moveReaderIndex(forwardBy: text.utf8.distance(from: text.startIndex, to: end.upperBound))
                head = headText
                let lower = headText.lowercased()
                chunked = lower.contains("transfer-encoding: chunked")
                bodyRemaining = 0
                bodyBytes = 0
                if let line = lower.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }) {
                    bodyRemaining = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if chunked {
                // Decode just enough to find the end: "<hex>\r\n<data>\r\n" ... "0\r\n\r\n".
                while true {
                    let text = String(buffer: buffer)
                    guard let lineEnd = text.range(of: "\r\n") else { return }
                    let size = Int(text[..<lineEnd.lowerBound], radix: 16) ?? 0
                    let headerLength = text.utf8.distance(from: text.startIndex, to: lineEnd.upperBound)
                    if size == 0 {
                        guard buffer.readableBytes >= headerLength + 2 else { return }
                        buffer.moveReaderIndex(forwardBy: headerLength + 2)
                        break
                    }
                    guard buffer.readableBytes >= headerLength + size + 2 else { return }
                    buffer.moveReaderIndex(forwardBy: headerLength)
                    body += buffer.readBytes(length: size) ?? []
                    buffer.moveReaderIndex(forwardBy: 2)
                    bodyBytes += size
                }
            } else {
                let take = min(bodyRemaining, buffer.readableBytes)
                body += buffer.readBytes(length: take) ?? []
                bodyRemaining -= take
                bodyBytes += take
                if bodyRemaining > 0 { return }
            }
            let headText = head!
            head = nil
            chunked = false
            backend.record(head: headText, bodyBytes: bodyBytes, body: body)
            body = []
            let reply = backend.respond(headText)
            let send = {
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: reply.bytes)), promise: nil)
                if reply.closeAfter { context.close(promise: nil) }
            }
            if reply.delayMs > 0 {
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(reply.delayMs))) { send() }
            } else {
                send()
            }
            if reply.closeAfter { return }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
