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
        /// request-transformer's header lines, and its method.
        var extraLines: String?
        var method: String?
        /// The query to send instead of the client's (without `?`; empty: none).
        var query: String?
        /// The body was read whole (and maybe rewritten): sent with this Content-Length.
        var bodyLength: Int?
    }

    static func write(_ head: RequestHead, _ ctx: Context, into out: inout ByteBuffer) {
        head.bytes.withUnsafeReadableBytes { raw in
            if let method = ctx.edits?.method {
                out.writeString(method)
            } else {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.method]))
            }
            out.writeInteger(UInt8(ascii: " "))
            out.writeString(ctx.upstreamPath)
            if let query = ctx.edits?.query {
                if !query.isEmpty {
                    out.writeStaticString("?")
                    out.writeString(query)
                }
            } else {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.query]))
            }
            out.writeStaticString(" HTTP/1.1\r\nHost: ")
            out.writeString(ctx.hostHeader)
            out.writeStaticString("\r\n")

            var forwardedFor: [Range<Int>] = []
            var realIP: Range<Int>?
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
                    if ctx.peerTrusted && realIP == nil { realIP = field.valueStart..<(field.valueStart + field.valueLength) }
                    continue
                case .xForwardedProto, .xForwardedHost, .xForwardedPort, .xForwardedPath, .xForwardedPrefix:
                    guard ctx.peerTrusted, !field.hasUnderscore else { continue }
                    seen |= 1 << UInt32(field.name.rawValue)
                default:
                    if field.name.isHopByHop || field.hasUnderscore || head.isNominated(field) { continue }
                    if let edits = ctx.edits, field.isNamed(byAnyOf: edits.removeHeaders, in: raw) { continue }
                }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[field.lineRange]))
                out.writeStaticString("\r\n")
            }

            out.writeStaticString("X-Forwarded-For: ")
            for range in forwardedFor {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[range]))
                out.writeStaticString(", ")
            }
            out.writeString(ctx.clientIP)
            func missing(_ name: HeaderName) -> Bool { seen & (1 << UInt32(name.rawValue)) == 0 }
            if missing(.xForwardedProto) { out.writeStaticString("\r\nX-Forwarded-Proto: http") }
            if missing(.xForwardedHost) {
                out.writeStaticString("\r\nX-Forwarded-Host: ")
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.host]))
            }
            if missing(.xForwardedPort) {
                out.writeStaticString("\r\nX-Forwarded-Port: ")
                out.writeString(String(ctx.listenerPort))
            }
            if missing(.xForwardedPath) {
                out.writeStaticString("\r\nX-Forwarded-Path: ")
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.path]))
            }
            if missing(.xForwardedPrefix), let prefix = ctx.strippedPrefix {
                out.writeStaticString("\r\nX-Forwarded-Prefix: ")
                out.writeString(prefix)
            }
            out.writeStaticString("\r\nX-Real-IP: ")
            if let realIP {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[realIP]))
            } else {
                out.writeString(ctx.clientIP)
            }
        }
        out.writeStaticString("\r\n")
        if let edits = ctx.edits {
            if let lines = edits.consumerLines { out.writeBytes(lines) }
            if let line = edits.credentialLine { out.writeBytes(line) }
            if edits.anonymous { out.writeStaticString("X-Anonymous-Consumer: true\r\n") }
            if let line = edits.groupsLine { out.writeBytes(line) }
            if let line = edits.correlationLine { out.writeString(line) }
            if let lines = edits.extraLines { out.writeString(lines) }
        }
        out.writeStaticString("Via: ")
        out.writeInteger(UInt8(ascii: "1"))
        out.writeInteger(UInt8(ascii: "."))
        out.writeInteger(UInt8(48 + head.minorVersion))
        out.writeInteger(UInt8(ascii: " "))
        out.writeString(ctx.viaToken)
        out.writeStaticString("\r\nX-Kong-Request-Id: ")
        writeRequestID(ctx.requestID, into: &out)
        if let length = ctx.edits?.bodyLength {
            out.writeStaticString("\r\nContent-Length: ")
            out.writeString(String(length))
        } else if case .chunked = head.framing {
            out.writeStaticString("\r\nTransfer-Encoding: chunked")
        }
        out.writeStaticString("\r\nConnection: keep-alive\r\n\r\n")
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
