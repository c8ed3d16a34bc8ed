import Foundation
import ArgusHTTP
import NIOCore
import NIOPosix

/// A raw HTTP/1.1 client for tests: sends exact bytes, reads framed responses.
final class RawClient {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
        func headers(_ name: String) -> [String] {
            headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
        }
        var bodyString: String { String(decoding: body, as: UTF8.self) }
    }

    let channel: any Channel
    private var iterator: AsyncStream<ByteBuffer>.AsyncIterator
    var buffer = ByteBuffer()
    private(set) var closed = false

    init(port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StreamingHandler(continuation: continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        iterator = stream.makeAsyncIterator()
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    func sendWithoutWaiting(_ text: String) {
        channel.writeAndFlush(ByteBuffer(string: text), promise: nil)
    }

    func send(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes)
    }

    /// Reads more bytes; false when the connection closed.
    private func fill() async throws -> Bool {
        guard let more = await iterator.next() else {
            closed = true
            return false
        }
        buffer.writeImmutableBuffer(more)
        return true
    }

    func fillOnce() async throws -> Bool { try await fill() }

    /// Reads one response; nil if the connection closed before a complete head.
    func readResponse(isHEAD: Bool = false) async throws -> Response? {
        var parser = ResponseHeadParser()
        var head: ResponseHead?
        while head == nil {
            switch parser.parse(&buffer, requestWasHEAD: isHEAD) {
            case .head(let h): head = h
            case .informational: continue
            case .error(let e): throw e
            case .needMore: if try await !fill() { return nil }
            }
        }
        let h = head!
        var body: [UInt8] = []
        switch h.framing {
        case .none: break
        case .length(let n):
            while buffer.readableBytes < n { if try await !fill() { break } }
            body = buffer.readBytes(length: min(n, buffer.readableBytes)) ?? []
        case .chunked:
            var decoder = ChunkedDecoder()
            while true {
                try decoder.decode(&buffer) { body += Array(buffer: $0) }
                if decoder.isComplete { break }
                if try await !fill() { break }
            }
        case .untilClose:
            while try await fill() {}
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        }
        let headers = h.fields.map { f in
            (h.string(f.nameStart..<(f.nameStart + f.nameLength)), h.string(f.valueStart..<(f.valueStart + f.valueLength)))
        }
        return Response(status: h.status, headers: headers, body: body)
    }

    /// Reads until the peer closes; returns everything unread.
    func readToEnd() async throws -> String {
        while try await fill() {}
        return String(buffer: buffer)
    }

    func close() async {
        try? await channel.close()
    }
}

/// Hands every inbound buffer to an AsyncStream; finishes it when the connection closes.
private final class StreamingHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncStream<ByteBuffer>.Continuation

    init(continuation: AsyncStream<ByteBuffer>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension RawClient {
    /// Reads whatever arrives next (for interim responses).
    func readInterim() async throws -> String {
        if buffer.readableBytes == 0 { _ = try await fillOnce() }
        let text = String(buffer: buffer)
        if let end = text.range(of: "\r\n\r\n") {
            let length = text.utf8.distance(from: text.startIndex, to: end.upperBound)
            buffer.moveReaderIndex(forwardBy: length)
            return String(text[..<end.upperBound])
        }
        return text
    }
}
