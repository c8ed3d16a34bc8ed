import NIOCore
import NIOHPACK

/// An upstream's HTTP/2 response (a `grpc`/`grpcs` service's) as the HTTP/1.1 response the data
/// path reads: `:status` makes the status line, the fields are copied, and a body whose length is
/// not given is chunked, so that the trailer section carries the response's trailers (gRPC's
/// `grpc-status` and `grpc-message`) to the client. A response that ends with its HEADERS (a gRPC
/// "trailers-only" answer) gets `content-length: 0`. Pure.
public struct ResponseSynthesizer {
    /// The upstream's block can not be an HTTP/1.1 response head: the stream is reset and the
    /// exchange fails as a malformed response would.
    public struct Malformed: Error, Equatable, Sendable {
        public var reason: String
    }

    private enum Body {
        /// Before the final head.
        case awaitingHead
        /// No body can follow (HEAD, 204, 304): DATA is dropped.
        case none
        /// The upstream's `content-length`: DATA passes as it is.
        case length
        /// DATA becomes chunks; the end, the last chunk (with the trailers if any).
        case chunked
        case ended
    }

    private var body = Body.awaitingHead
    private let requestWasHEAD: Bool

    public init(requestWasHEAD: Bool) {
        self.requestWasHEAD = requestWasHEAD
    }

    /// The final head was synthesized.
    public var sawHead: Bool {
        if case .awaitingHead = body { return false }
        return true
    }

    /// A HEADERS block: the response's head (or an interim one), or its trailers.
    public mutating func headers(_ headers: HPACKHeaders, endStream: Bool, allocator: ByteBufferAllocator) throws(Malformed) -> ByteBuffer {
        guard case .awaitingHead = body else { return trailers(headers, allocator: allocator) }
        guard let statusText = headers.first(name: ":status"), statusText.utf8.count == 3, let status = Int(statusText),
            status >= 100
        else { throw Malformed(reason: "missing or invalid :status") }
        var out = allocator.buffer(capacity: 256)
        out.writeStaticString("HTTP/1.1 ")
        out.writeString(statusText)
        out.writeStaticString(" \r\n")
        if status < 200 {
            // interim (100 Continue, 103 Early Hints); 101 is not an HTTP/2 status
            guard status != 101 && !endStream else { throw Malformed(reason: "interim response \(status) ends the stream") }
            try Self.writeFields(headers, into: &out)
            out.writeStaticString("\r\n")
            return out
        }
        try Self.writeFields(headers, into: &out)
        let hasLength = headers.contains(name: "content-length")
        if requestWasHEAD || status == 204 || status == 304 {
            body = endStream ? .ended : .none
        } else if endStream {
            body = .ended
            if !hasLength { out.writeStaticString("content-length: 0\r\n") }
        } else if hasLength {
            body = .length
        } else {
            body = .chunked
            out.writeStaticString("transfer-encoding: chunked\r\n")
        }
        out.writeStaticString("\r\n")
        return out
    }

    /// DATA: a chunk, or the bytes as they are for a body of known length; `endStream` ends it.
    public mutating func data(_ data: ByteBuffer, endStream: Bool, allocator: ByteBufferAllocator) throws(Malformed) -> ByteBuffer? {
        switch body {
        case .awaitingHead:
            throw Malformed(reason: "DATA before the response head")
        case .none, .ended:
            if endStream { body = .ended }
            return nil
        case .length:
            if endStream { body = .ended }
            return data.readableBytes > 0 ? data : nil
        case .chunked:
            var out = allocator.buffer(capacity: data.readableBytes + 17)
            if data.readableBytes > 0 {
                out.writeString(String(data.readableBytes, radix: 16))
                out.writeStaticString("\r\n")
                out.writeImmutableBuffer(data)
                out.writeStaticString("\r\n")
            }
            if endStream {
                body = .ended
                out.writeStaticString("0\r\n\r\n")
            }
            return out.readableBytes > 0 ? out : nil
        }
    }

    /// Whether the response is complete (its end was synthesized).
    public var isComplete: Bool {
        if case .ended = body { return true }
        return false
    }

    /// The trailers that end the stream: the chunked body's trailer section (dropped for a body
    /// of known length, which has nowhere to carry them).
    private mutating func trailers(_ headers: HPACKHeaders, allocator: ByteBufferAllocator) -> ByteBuffer {
        let wasChunked: Bool
        if case .chunked = body { wasChunked = true } else { wasChunked = false }
        body = .ended
        guard wasChunked else { return ByteBuffer() }
        var out = allocator.buffer(capacity: 64)
        out.writeStaticString("0\r\n")
        for (name, value, _) in headers where name.utf8.first != UInt8(ascii: ":") && RequestSynthesizer.isFieldValue(value) {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        return out
    }

    private static func writeFields(_ headers: HPACKHeaders, into out: inout ByteBuffer) throws(Malformed) {
        for (name, value, _) in headers where name.utf8.first != UInt8(ascii: ":") {
            guard RequestSynthesizer.isFieldValue(value) else { throw Malformed(reason: "invalid value of \(name)") }
            if name == "transfer-encoding" || name == "connection" { continue }
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
    }
}
