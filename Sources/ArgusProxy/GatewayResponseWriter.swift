import ArgusSnapshot
import ArgusConfig
import ArgusHTTP
import NIOCore

/// Writes a gateway-made response (error or otherwise) in Kong's format: JSON by default, or the
/// format the client's `Accept` asks for (JSON, HTML, XML, plain text).
enum GatewayResponseWriter {
    enum Format { case json, html, xml, plain }

    static func format(accept: String?, plainByDefault: Bool) -> Format {
        guard let accept = accept?.lowercased(), !accept.isEmpty else { return plainByDefault ? .plain : .json }
        if accept.contains("application/json") { return .json }
        if accept.contains("text/html") { return .html }
        if accept.contains("application/xml") || accept.contains("text/xml") { return .xml }
        if accept.contains("text/plain") { return .plain }
        return plainByDefault ? .plain : .json
    }

    static func body(_ error: GatewayError, requestID: String, format: Format) -> (contentType: String, body: String) {
        switch format {
        case .json:
            return ("application/json; charset=utf-8",
                "{\n  \"message\":\(JSONText.quote(error.message)),\n  \"request_id\":\"\(requestID)\"\n}")
        case .plain:
            return ("text/plain; charset=utf-8", "\(error.message)\nrequest_id: \(requestID)\n")
        case .html:
            let text = htmlEscape(error.message)
            return ("text/html; charset=utf-8",
                "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n"
                    + "  <body>\n    <h1>Error</h1>\n    <p>\(text).</p>\n    <p>request_id: \(requestID)</p>\n  </body>\n</html>\n")
        case .xml:
            return ("application/xml; charset=utf-8",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>\(htmlEscape(error.message))</message>\n"
                    + "  <requestid>\(requestID)</requestid>\n</error>\n")
        }
    }

    /// Writes status line, headers and body of a gateway response into `buffer`; for a gRPC
    /// request (`grpc`), a gRPC error (``GRPCAnswer``).
    static func write(
        _ error: GatewayError, requestID: String, accept: String?, isHEAD: Bool, keepAlive: Bool, date: String,
        serverToken: String, latencyMs: Int, grpc: Bool = false, into buffer: inout ByteBuffer
    ) {
        if grpc, let fields = GRPCAnswer.fields(for: error) {
            buffer.writeString("HTTP/1.1 200 OK\r\nDate: \(date)\r\nContent-Type: application/grpc\r\n")
            buffer.writeString("grpc-status: \(fields.status)\r\ngrpc-message: \(fields.message)\r\nContent-Length: 0\r\n")
            for (name, value) in error.headers where name.lowercased() != "connection" && name.lowercased() != "upgrade" {
                buffer.writeString("\(name): \(value)\r\n")
            }
            writeTail(error, requestID: requestID, serverToken: serverToken, latencyMs: latencyMs, into: &buffer)
            return
        }
        let (contentType, body) = error.emptyBody
            ? ("", "")
            : error.exitBody.map { (error.exitContentType ?? "application/json; charset=utf-8", $0) }
                ?? body(error, requestID: requestID, format: format(accept: accept, plainByDefault: error.plainByDefault))
        buffer.writeString("HTTP/1.1 \(error.status) \(ReasonPhrase.of(error.status))\r\n")
        buffer.writeString("Date: \(date)\r\n")
        if !contentType.isEmpty { buffer.writeString("Content-Type: \(contentType)\r\n") }
        buffer.writeString("Content-Length: \(body.utf8.count)\r\n")
        buffer.writeString(keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n")
        for (name, value) in error.headers where !(name == "Connection" && !keepAlive) {
            buffer.writeString("\(name): \(value)\r\n")
        }
        writeTail(error, requestID: requestID, serverToken: serverToken, latencyMs: latencyMs, into: &buffer)
        if !isHEAD { buffer.writeString(body) }
    }

    /// The lines every gateway answer ends its head with: the plugins' headers, Kong's latency,
    /// the server token and the request id, then the empty line.
    private static func writeTail(_ error: GatewayError, requestID: String, serverToken: String, latencyMs: Int, into buffer: inout ByteBuffer) {
        if let lines = error.headerLines { buffer.writeImmutableBuffer(lines) }
        buffer.writeString("X-Kong-Response-Latency: \(latencyMs)\r\nServer: \(serverToken)\r\n")
        buffer.writeString("X-Kong-Request-Id: \(requestID)\r\n\r\n")
    }

    static func htmlEscape(_ s: String) -> String {
        s.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;").replacingAll("\"", "&quot;")
    }
}

extension String {
    func replacingAll(_ target: Character, _ replacement: String) -> String {
        var out = ""
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }
}
