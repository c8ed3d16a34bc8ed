import ArgusSnapshot
import ArgusHTTP
import NIOCore

/// Writes the response head the client gets for a proxied response (kong-compat §4.1): the
/// upstream's header lines copied as bytes, minus hop-by-hop ones, plus Kong's headers.
enum ClientResponseWriter {
    /// How the body is framed towards the client.
    enum Framing {
        case none
        /// Upstream Content-Length passed through.
        case passthrough
        /// Re-encoded as chunked (upstream chunked or close-delimited, HTTP/1.1 client).
        case chunked
        /// Until Argus closes the connection (HTTP/1.0 client).
        case untilClose
    }

    static func framing(for upstream: BodyFraming, clientMinorVersion: Int) -> Framing {
        switch upstream {
        case .none: return .none
        case .length: return .passthrough
        case .chunked, .untilClose: return clientMinorVersion == 1 ? .chunked : .untilClose
        }
    }

    struct Context {
        var framing: Framing
        var keepAlive: Bool
        var clientMinorVersion: Int
        var serverToken: String
        var upstreamLatencyMs: Int
        var proxyLatencyMs: Int
        var requestID: RequestID
        /// Header lines (`Name: value\r\n`) plugins add to the response, written as they are.
        var pluginHeaders: ByteBuffer? = nil
        /// response-transformer: upstream headers (lower-cased names) replaced by `transformedLines`.
        var dropHeaders: [String]? = nil
        var transformedLines: String? = nil
        /// A 101 to an upgrade request: its `Upgrade` is kept and `Connection: upgrade` said.
        var upgrade = false
        /// The body is written whole with this length (a cache hit, a transformed JSON body):
        /// it replaces the head's own framing.
        var bodyLength: Int? = nil
    }

    /// The upstream headers left out: response-transformer's, and those cors owns.
    static func dropped(_ transformed: [String]?, cors: [String]?, limits: [String]? = nil) -> [String]? {
        guard transformed != nil || cors != nil else { return limits }  // the common case: no array made
        var out = transformed ?? []
        if let cors { out += cors }
        if let limits { out += limits }
        return out
    }

    static func write(_ head: ResponseHead, _ ctx: Context, into out: inout ByteBuffer) {
        let estimate = head.bytes.readableBytes + 2 * ctx.serverToken.utf8.count + (ctx.pluginHeaders?.readableBytes ?? 0)
            + (ctx.transformedLines?.utf8.count ?? 0) + 192
        out.writeHead(estimate: estimate) { out in write(head, ctx, into: &out) }
    }

    private static func write(_ head: ResponseHead, _ ctx: Context, into out: inout HeadBytes) {
        var sawServer = false
        head.bytes.withUnsafeReadableBytes { raw in
            // Status line: our version, the upstream's code and reason.
            var lineEnd = 12
            while raw[lineEnd] != UInt8(ascii: "\r") { lineEnd += 1 }
            out.append(ctx.clientMinorVersion == 1 ? "HTTP/1.1" : "HTTP/1.0")
            out.append(UnsafeRawBufferPointer(rebasing: raw[8..<lineEnd]))
            out.append("\r\n")
            for field in head.fields {
                if field.name.isHopByHop {
                    if ctx.upgrade && field.name == .upgrade {
                        out.append(UnsafeRawBufferPointer(rebasing: raw[field.lineRange]))
                        out.append("\r\n")
                    }
                    continue
                }
                if head.isNominated(field) { continue }
                if field.name == .contentLength && ((ctx.framing != .passthrough && ctx.framing != .none) || ctx.bodyLength != nil) {
                    continue
                }
                if let drop = ctx.dropHeaders, field.isNamed(byAnyOf: drop, in: raw) { continue }
                if field.name == .server { sawServer = true }
                out.append(UnsafeRawBufferPointer(rebasing: raw[field.lineRange]))
                out.append("\r\n")
            }
        }
        if ctx.framing == .chunked { out.append("Transfer-Encoding: chunked\r\n") }
        if let length = ctx.bodyLength {
            out.append("Content-Length: ")
            out.append(decimal: length)
            out.append("\r\n")
        }
        if ctx.upgrade {
            out.append("Connection: upgrade\r\n")
        } else if !ctx.keepAlive {
            out.append("Connection: close\r\n")
        } else if ctx.clientMinorVersion == 0 {
            out.append("Connection: keep-alive\r\n")
        }
        if !sawServer {
            out.append("Server: ")
            out.append(ctx.serverToken)
            out.append("\r\n")
        }
        if let lines = ctx.pluginHeaders { lines.withUnsafeReadableBytes { out.append($0) } }
        if let lines = ctx.transformedLines { out.append(lines) }
        out.append("Via: 1.1 ")
        out.append(ctx.serverToken)
        // (a cache hit too: proxy-cache marks it proxied, so Kong sends these two, the upstream's 0)
        out.append("\r\nX-Kong-Upstream-Latency: ")
        out.append(decimal: ctx.upstreamLatencyMs)
        out.append("\r\nX-Kong-Proxy-Latency: ")
        out.append(decimal: ctx.proxyLatencyMs)
        out.append("\r\nX-Kong-Request-Id: ")
        out.append(ctx.requestID)
        out.append("\r\n\r\n")
    }
}
