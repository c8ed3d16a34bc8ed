import ArgusSnapshot
import ArgusHTTP
import NIOCore

/// Writes the request head Argus sends upstream (kong-compat §4.2): the client's header lines are
/// copied as bytes, minus hop-by-hop headers and the ones Argus sets itself.
enum UpstreamRequestWriter {
    struct Context {
        var upstreamPath: String
        var hostHeader: String
        var clientIP: String
        var peerTrusted: Bool
        var listenerPort: Int
        var strippedPrefix: String?
        var requestID: RequestID
        var viaToken: String
        /// The client connection is TLS.
        var secure = false
        /// A protocol upgrade (WebSocket): `Upgrade` is passed on with `Connection: upgrade`, the
        /// one exception to removing hop-by-hop headers.
        var upgrade = false
        /// What the access plugins change (nil: nothing, the common case).
        var edits: Edits? = nil
    }

    /// Changes the access phase makes to the upstream request.
    struct Edits {
        /// The headers authentication plugins set: a client's own are never passed on.
        static let consumerHeaders = [
            "x-consumer-id", "x-consumer-custom-id", "x-consumer-username", "x-credential-identifier", "x-anonymous-consumer",
        ]
        static let consumerAndGroupHeaders = consumerHeaders + ["x-consumer-groups"]
        /// Lower-cased names of client headers to drop.
        var removeHeaders: [String] = []
        /// Header lines (`Name: value\r\n`) to add, each rendered once per config snapshot.
        var consumerLines: [UInt8]?
        var credentialLine: [UInt8]?
        var anonymous = false
        var groupsLine: [UInt8]?
        /// correlation-id's header, when the request had none.
        var correlationLine: String?
        /// The trace context (`opentelemetry`'s propagation).
        var traceLines: [UInt8]?
        /// request-transformer's header lines, and its method.
        var extraLines: String?
        var method: String?
        /// The query to send instead of the client's (without `?`; empty: none).
        var query: String?
        /// The body was read whole (and maybe rewritten): sent with this Content-Length.
        var bodyLength: Int?
    }

    static func write(_ head: RequestHead, _ ctx: Context, into out: inout ByteBuffer) {
        // Each byte of the client's head is copied at most twice (a header line, and again as
        // X-Forwarded-Host/Path/For or X-Real-IP); the rest is Argus's own.
        var estimate = 2 * head.bytes.readableBytes + ctx.upstreamPath.utf8.count + ctx.hostHeader.utf8.count
            + 2 * ctx.clientIP.utf8.count + (ctx.strippedPrefix?.utf8.count ?? 0) + ctx.viaToken.utf8.count + 256
        if let edits = ctx.edits {
            estimate += (edits.consumerLines?.count ?? 0) + (edits.credentialLine?.count ?? 0) + (edits.groupsLine?.count ?? 0)
                + (edits.correlationLine?.utf8.count ?? 0) + (edits.traceLines?.count ?? 0) + (edits.extraLines?.utf8.count ?? 0) + (edits.method?.utf8.count ?? 0)
                + (edits.query?.utf8.count ?? 0) + 64
        }
        out.writeHead(estimate: estimate) { out in write(head, ctx, into: &out) }
    }

    private static func write(_ head: RequestHead, _ ctx: Context, into out: inout HeadBytes) {
        head.bytes.withUnsafeReadableBytes { raw in
            if let method = ctx.edits?.method {
                out.append(method)
            } else {
                out.append(UnsafeRawBufferPointer(rebasing: raw[head.method]))
            }
            out.append(byte: UInt8(ascii: " "))
            out.append(ctx.upstreamPath)
            if let query = ctx.edits?.query {
                if !query.isEmpty {
                    out.append("?")
                    out.append(query)
                }
            } else {
                out.append(UnsafeRawBufferPointer(rebasing: raw[head.query]))
            }
            out.append(" HTTP/1.1\r\nHost: ")
            out.append(ctx.hostHeader)
            out.append("\r\n")

            var forwardedFor: [Range<Int>] = []
            var seen: UInt32 = 0
            for field in head.fields {
                switch field.name {
                case .host, .expect, .xKongRequestID, .transferEncoding:
                    continue
                case .contentLength:
                    // Kept only for a body framed by length (a chunked body gets our own Transfer-Encoding).
                    guard case .length = head.framing, ctx.edits?.bodyLength == nil else { continue }
                case .xForwardedFor:
                    forwardedFor.append(field.valueStart..<(field.valueStart + field.valueLength))
                    continue
                case .xRealIP:
                    continue  // (Kong's X-Real-IP is the client's address: the peer's, or the one a trusted peer gave)
                case .xForwardedProto, .xForwardedHost, .xForwardedPort, .xForwardedPath, .xForwardedPrefix:
                    guard ctx.peerTrusted, !field.hasUnderscore else { continue }
                    seen |= 1 << UInt32(field.name.rawValue)
                default:
                    if field.name.isHopByHop {
                        if ctx.upgrade && field.name == .upgrade {
                            out.append(UnsafeRawBufferPointer(rebasing: raw[field.lineRange]))
                            out.append("\r\n")
                        }
                        continue
                    }
                    if field.hasUnderscore || head.isNominated(field) { continue }
                    if let edits = ctx.edits, field.isNamed(byAnyOf: edits.removeHeaders, in: raw) { continue }
                }
                out.append(UnsafeRawBufferPointer(rebasing: raw[field.lineRange]))
                out.append("\r\n")
            }

            out.append("X-Forwarded-For: ")
            for range in forwardedFor {
                out.append(UnsafeRawBufferPointer(rebasing: raw[range]))
                out.append(", ")
            }
            out.append(ctx.clientIP)
            func missing(_ name: HeaderName) -> Bool { seen & (1 << UInt32(name.rawValue)) == 0 }
            if missing(.xForwardedProto) { out.append(ctx.secure ? "\r\nX-Forwarded-Proto: https" : "\r\nX-Forwarded-Proto: http") }
            if missing(.xForwardedHost) {
                out.append("\r\nX-Forwarded-Host: ")
                out.append(UnsafeRawBufferPointer(rebasing: raw[head.host]))
            }
            if missing(.xForwardedPort) {
                out.append("\r\nX-Forwarded-Port: ")
                out.append(decimal: ctx.listenerPort)
            }
            if missing(.xForwardedPath) {
                out.append("\r\nX-Forwarded-Path: ")
                out.append(UnsafeRawBufferPointer(rebasing: raw[head.path]))
            }
            if missing(.xForwardedPrefix), let prefix = ctx.strippedPrefix {
                out.append("\r\nX-Forwarded-Prefix: ")
                out.append(prefix)
            }
            out.append("\r\nX-Real-IP: ")
            out.append(ctx.clientIP)
        }
        out.append("\r\n")
        if let edits = ctx.edits {
            if let lines = edits.consumerLines { out.append(lines) }
            if let line = edits.credentialLine { out.append(line) }
            if edits.anonymous { out.append("X-Anonymous-Consumer: true\r\n") }
            if let line = edits.groupsLine { out.append(line) }
            if let line = edits.correlationLine { out.append(line) }
            if let lines = edits.traceLines { out.append(lines) }
            if let lines = edits.extraLines { out.append(lines) }
        }
        out.append("Via: ")
        out.append(byte: UInt8(ascii: "1"))
        out.append(byte: UInt8(ascii: "."))
        out.append(byte: UInt8(48 + head.minorVersion))
        out.append(byte: UInt8(ascii: " "))
        out.append(ctx.viaToken)
        out.append("\r\nX-Kong-Request-Id: ")
        out.append(ctx.requestID)
        if let length = ctx.edits?.bodyLength {
            out.append("\r\nContent-Length: ")
            out.append(decimal: length)
        } else if case .chunked = head.framing {
            out.append("\r\nTransfer-Encoding: chunked")
        }
        out.append(ctx.upgrade ? "\r\nConnection: upgrade\r\n\r\n" : "\r\nConnection: keep-alive\r\n\r\n")
    }

    static func writeRequestID(_ id: RequestID, into out: inout ByteBuffer) {
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: 32) { buffer in
            let digits = RequestID.digits
            for i in 0..<16 {
                buffer[i] = digits[Int((id.high >> UInt64(60 - 4 * i)) & 0xF)]
                buffer[16 + i] = digits[Int((id.low >> UInt64(60 - 4 * i)) & 0xF)]
            }
            return 32
        }
    }
}
