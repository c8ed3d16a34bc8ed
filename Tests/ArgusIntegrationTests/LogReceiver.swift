import ArgusCompression
import ArgusHTTP
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Behaves like Logstash's `http` input with the json codec: a JSON array becomes one event per
/// element, an object one event; gzip bodies are inflated; answers 200 `ok` (or `status`). Keeps
/// every event's `request.id` in arrival order, every request's headers, and can be stopped and
/// started again on the same port (an outage).
final class LogReceiver: Sendable {
    struct Post: Sendable {
        var headers: [String: String]
        var wasArray: Bool
        var count: Int
    }

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    private let state = NIOLockedValueBox<(ids: [String], posts: [Post], records: [Data])>(([], [], []))
    let status = NIOLockedValueBox(200)
    private(set) var port: Int {
        get { portBox.withLockedValue { $0 } }
        set { portBox.withLockedValue { $0 = newValue } }
    }
    private let portBox = NIOLockedValueBox(0)

    /// Reserves a free port without listening on it (the receiver starts "down").
    func reservePort() throws -> Int {
        let socket = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        port = socket.localAddress!.port!
        try socket.close().wait()
        return port
    }

    @discardableResult
    func start() async throws -> Int {
        let bound = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LogReceiverHandler(receiver: self))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        port = bound.localAddress!.port!
        channel.withLockedValue { $0 = bound }
        return port
    }

    func stop() async {
        let bound = channel.withLockedValue { c in defer { c = nil }; return c }
        try? await bound?.close()
    }

    func shutdown() async {
        await stop()
        try? await group.shutdownGracefully()
    }

    var ids: [String] { state.withLockedValue { $0.ids } }
    var posts: [Post] { state.withLockedValue { $0.posts } }
    var records: [[String: Any]] {
        state.withLockedValue { $0.records }.compactMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }

    /// Waits (up to `timeout`) until at least `count` events arrived.
    func waitFor(_ count: Int, timeout: Duration = .seconds(20)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if ids.count >= count { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return ids.count >= count
    }

    fileprivate func accept(headers: [String: String], body: [UInt8]) -> Int {
        var bytes = body
        if headers["content-encoding"] == "gzip" { bytes = Gzip.decompress(body) ?? [] }
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes)) else { return 400 }
        let events = (json as? [[String: Any]]) ?? [(json as? [String: Any]) ?? [:]]
        let status = self.status.withLockedValue { $0 }
        guard status < 300 else { return status }
        let ids = events.map { ((($0["request"] as? [String: Any])?["id"] as? String) ?? "") }
        let encoded = events.compactMap { try? JSONSerialization.data(withJSONObject: $0) }
        let post = Post(headers: headers, wasArray: json is [Any], count: events.count)
        state.withLockedValue { state in
            state.ids += ids
            state.records += encoded
            state.posts.append(post)
        }
        return 200
    }
}

private final class LogReceiverHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let receiver: LogReceiver
    var buffer = ByteBuffer()
    var parser = RequestHeadParser()
    var head: RequestHead?

    init(receiver: LogReceiver) { self.receiver = receiver }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        buffer.writeImmutableBuffer(unwrapInboundIn(data))
        while true {
            if head == nil {
                switch parser.parse(&buffer) {
                case .needMore: return
                case .error: context.close(promise: nil); return
                case .head(let h): head = h
                }
            }
            guard let h = head else { return }
            var length = 0
            if case .length(let n) = h.framing { length = n }
            guard buffer.readableBytes >= length else { return }
            let body = buffer.readBytes(length: length) ?? []
            var headers: [String: String] = [:]
            for name in ["content-type", "content-encoding", "authorization", "x-custom"] {
                if let v = h.values(forLowercasedName: name).first { headers[name] = v }
            }
            head = nil
            let status = receiver.accept(headers: headers, body: body)
            let text = status == 200 ? "ok" : "error"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string:
                "HTTP/1.1 \(status) X\r\nContent-Length: \(text.utf8.count)\r\nContent-Type: text/plain\r\n\r\n\(text)")), promise: nil)
        }
    }
}

@available(*, unavailable)
extension LogReceiverHandler: Sendable {}
