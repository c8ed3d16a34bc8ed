import NIOSSL
import ArgusHTTP
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A request to the admin or status listener, its body read whole (bounded by the listener's limit).
public struct ControlRequest: Sendable {
    public var method: String
    public var path: String
    public var query: String
    /// `Accept-Encoding` values, lower-cased and joined (for gzip negotiation).
    public var acceptEncoding: String
    public var contentType: String = ""
    /// `Accept` values, lower-cased and joined (OpenMetrics negotiation on `/metrics`).
    public var accept: String = ""
    /// `Authorization` and `Kong-Admin-Token` (for the admin token check).
    public var authorization: String = ""
    public var adminToken: String = ""
    /// `Origin` and `Access-Control-Request-Headers` (the Admin API's CORS answers).
    public var origin: String = ""
    public var corsRequestHeaders: String?
    public var body: [UInt8] = []

    /// The client asks for OpenMetrics text (Prometheus does by default; a `q=0` refuses it).
    public var acceptsOpenMetrics: Bool {
        accept.split(separator: ",").contains { part in
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.first == "application/openmetrics-text" else { return false }
            return !fields.dropFirst().contains { ["q=0", "q=0.0", "q=0.00", "q=0.000"].contains($0.replacingOccurrences(of: " ", with: "")) }
        }
    }

    public var acceptsGzip: Bool {
        acceptEncoding.split(separator: ",").contains { part in
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.first == "gzip" else { return false }
            return !fields.dropFirst().contains { $0.replacingOccurrences(of: " ", with: "") == "q=0" }
        }
    }
}

public struct ControlResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// Extra header lines (name, value), e.g. Content-Encoding.
    public var headers: [(String, String)] = []

    public init(status: Int, contentType: String, body: [UInt8], headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    public static func json(_ status: Int, _ body: String) -> ControlResponse {
        ControlResponse(status: status, contentType: "application/json; charset=utf-8", body: Array(body.utf8))
    }
}

/// A small HTTP/1.1 server for the admin and status listeners, using the proxy's strict parser.
/// Responders are async and run off the event loop (a scrape renders a large exposition), one
/// request per connection at a time, so pipelined requests are answered in order.
final class ControlServer: Sendable {
    typealias Responder = @Sendable (ControlRequest) async -> ControlResponse
    private let channel: NIOLockedValueBox<(any Channel)?> = NIOLockedValueBox(nil)

    func bind(
        group: any EventLoopGroup, address: ListenAddress, tls: NIOSSLContext? = nil, bodyLimit: Int = 0,
        responder: @escaping Responder
    ) async throws -> SocketAddress {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(ControlHandler(bodyLimit: bodyLimit, responder: responder))
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
    /// Largest request body read (0: bodies refused with 405, as on the status listener).
    private let bodyLimit: Int
    private var parser = RequestHeadParser()
    private var inbound = ByteBuffer()
    /// A responder is running; further requests wait in `inbound`.
    private var busy = false
    private var closed = false
    /// A request whose body is still arriving.
    private var pending: (request: ControlRequest, keepAlive: Bool, isHEAD: Bool, framing: BodyFraming)?
    private var chunked = ChunkedDecoder()

    init(bodyLimit: Int, responder: @escaping ControlServer.Responder) {
        self.bodyLimit = bodyLimit
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inbound.writeImmutableBuffer(unwrapInboundIn(data))
        process(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
    }

    private func process(_ context: ChannelHandlerContext) {
        while !busy && !closed {
            if pending != nil {
                guard readBody(context) else { return }
                continue
            }
            switch parser.parse(&inbound) {
            case .needMore:
                return
            case .error(let error):
                write(context, .json(error.status, "{\"message\":\"\(error.reason)\"}"), keepAlive: false, isHEAD: false)
                return
            case .head(let head):
                var request = ControlRequest(
                    method: head.methodString, path: head.string(head.path), query: String(head.string(head.query).dropFirst()),
                    acceptEncoding: head.values(forLowercasedName: "accept-encoding").joined(separator: ",").lowercased())
                request.contentType = head.values(forLowercasedName: "content-type").first ?? ""
                request.accept = head.values(forLowercasedName: "accept").joined(separator: ",").lowercased()
                request.authorization = head.values(forLowercasedName: "authorization").first ?? ""
                request.adminToken = head.values(forLowercasedName: "kong-admin-token").first ?? ""
                request.origin = head.values(forLowercasedName: "origin").first ?? ""
                request.corsRequestHeaders = head.values(forLowercasedName: "access-control-request-headers").first
                switch head.framing {
                case .none:
                    respond(context, request, keepAlive: head.keepAlive, isHEAD: head.isHEAD)
                case .length(let n) where bodyLimit > 0 && n <= bodyLimit:
                    pending = (request, head.keepAlive, head.isHEAD, head.framing)
                    if head.expectContinue { sendContinue(context) }
                case .chunked where bodyLimit > 0:
                    chunked = ChunkedDecoder()
                    pending = (request, head.keepAlive, head.isHEAD, head.framing)
                    if head.expectContinue { sendContinue(context) }
                case .length, .chunked, .untilClose:
                    if bodyLimit > 0 {
                        write(context, .json(413, "{\"message\":\"Payload too large\"}"), keepAlive: false, isHEAD: head.isHEAD)
                    } else {
                        write(context, .json(405, "{\"message\":\"Method not allowed\"}"), keepAlive: false, isHEAD: head.isHEAD)
                    }
                    return
                }
            }
        }
    }

    /// Moves body bytes of the pending request out of `inbound`; true once the body is whole
    /// (the request is then handed to the responder) or the connection was answered and closed.
    private func readBody(_ context: ChannelHandlerContext) -> Bool {
        guard let current = pending else { return true }
        var request = current.request
        let (keepAlive, isHEAD, framing) = (current.keepAlive, current.isHEAD, current.framing)
        switch framing {
        case .length(let n):
            let wanted = n - request.body.count
            let take = min(wanted, inbound.readableBytes)
            if take > 0, let bytes = inbound.readBytes(length: take) { request.body.append(contentsOf: bytes) }
            if request.body.count < n {
                pending = (request, keepAlive, isHEAD, framing)
                return false
            }
        case .chunked:
            var body = request.body
            do {
                try chunked.decode(&inbound) { chunk in body.append(contentsOf: chunk.readableBytesView) }
            } catch {
                pending = nil
                write(context, .json(400, "{\"message\":\"Bad request\"}"), keepAlive: false, isHEAD: isHEAD)
                return true
            }
            request.body = body
            if body.count > bodyLimit {
                pending = nil
                write(context, .json(413, "{\"message\":\"Payload too large\"}"), keepAlive: false, isHEAD: isHEAD)
                return true
            }
            if !chunked.isComplete {
                pending = (request, keepAlive, isHEAD, framing)
                return false
            }
        default:
            break
        }
        pending = nil
        respond(context, request, keepAlive: keepAlive, isHEAD: isHEAD)
        return true
    }

    private func respond(_ context: ChannelHandlerContext, _ request: ControlRequest, keepAlive: Bool, isHEAD: Bool) {
        busy = true
        let responder = self.responder
        let promise = context.eventLoop.makePromise(of: ControlResponse.self)
        promise.completeWithTask { await responder(request) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenSuccess { response in
            let (handler, context) = bound.value
            handler.busy = false
            guard !handler.closed else { return }
            handler.write(context, response, keepAlive: keepAlive, isHEAD: isHEAD)
            if keepAlive { handler.process(context) }
        }
    }

    /// `Expect: 100-continue` (curl sends it for bodies over 1 KiB): go ahead.
    private func sendContinue(_ context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: 32)
        out.writeString("HTTP/1.1 100 Continue\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    private func write(_ context: ChannelHandlerContext, _ response: ControlResponse, keepAlive: Bool, isHEAD: Bool) {
        var out = context.channel.allocator.buffer(capacity: response.body.count + 200)
        out.writeString("HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n")
        if response.status == 204 || response.status == 304 {
            out.writeString("Content-Length: 0\r\n")
        } else {
            out.writeString("Content-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\n")
        }
        for (name, value) in response.headers { out.writeString("\(name): \(value)\r\n") }
        out.writeString(keepAlive ? "\r\n" : "Connection: close\r\n\r\n")
        if !isHEAD { out.writeBytes(response.body) }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        if !keepAlive {
            closed = true
            context.close(promise: nil)
        }
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 201: return "Created"
        case 304: return "Not Modified"
        case 401: return "Unauthorized"
        case 409: return "Conflict"
        case 413: return "Payload Too Large"
        case 415: return "Unsupported Media Type"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return status < 400 ? "OK" : "Error"
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closed = true
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ControlHandler: Sendable {}
