import NIOCore
import NIOHPACK

/// An HTTP/2 request's header block as the HTTP/1.1 head the data path reads (RFC 9113 §8.3 to
/// RFC 9112): `:method` and `:path` make the request line, `:authority` the `Host` (a `host`
/// field beside it is dropped, as the authority wins), `cookie` fields are joined with `; `
/// (§8.2.3), and a body without `content-length` is sent on chunked. Pure.
///
/// NIOHTTP2 has already checked the block (pseudo-header rules, lower-case names, no
/// connection-specific fields, no CR, LF or NUL in values); what the HTTP/1.1 head must not carry
/// is checked again here, so that nothing in a field can end a line of the head it is written to.
public enum RequestSynthesizer {
    /// How the request's body reaches the HTTP/1.1 side.
    public enum Framing: Equatable, Sendable {
        /// No body (the HEADERS frame ended the stream).
        case none
        /// The client's `content-length`: DATA frames are passed as they are.
        case length
        /// No length given: DATA frames are chunk-encoded, the end of the stream is the last chunk.
        case chunked
    }

    public struct Head {
        public var bytes: ByteBuffer
        public var framing: Framing
        /// HEAD: its response has no body, whatever its length says.
        public var isHEAD: Bool
    }

    /// The block can not be an HTTP/1.1 head: the stream is refused (PROTOCOL_ERROR, RFC 9113 §8.1.1).
    public struct Malformed: Error, Equatable, Sendable {
        public var reason: String
    }

    public static func head(_ headers: HPACKHeaders, endStream: Bool, allocator: ByteBufferAllocator) throws(Malformed) -> Head {
        var method: String?
        var path: String?
        var authority: String?
        var regularBytes = 0
        var hasLength = false
        var cookies: [String] = []
        for (name, value, _) in headers {
            if name.utf8.first == UInt8(ascii: ":") {
                switch name {
                case ":method": method = value
                case ":path": path = value
                case ":authority": authority = value
                case ":scheme": break
                default: throw Malformed(reason: "pseudo-header \(name) is not allowed")
                }
                continue
            }
            guard isFieldValue(value) else { throw Malformed(reason: "invalid value of \(name)") }
            if name == "content-length" { hasLength = true }
            regularBytes += name.utf8.count + value.utf8.count + 4
        }
        guard let method, isToken(method) else { throw Malformed(reason: "invalid :method") }
        let target: String
        if method == "CONNECT" {
            guard let authority, path == nil else { throw Malformed(reason: "CONNECT needs :authority and no :path") }
            target = authority
        } else {
            guard let path, !path.isEmpty else { throw Malformed(reason: "missing :path") }
            target = path
        }
        guard isTarget(target) else { throw Malformed(reason: "invalid :path") }
        if let authority, !isTarget(authority) { throw Malformed(reason: "invalid :authority") }

        let framing: Framing = endStream ? .none : (hasLength ? .length : .chunked)
        var out = allocator.buffer(capacity: method.utf8.count + target.utf8.count + regularBytes + (authority?.utf8.count ?? 0) + 48)
        out.writeString(method)
        out.writeInteger(UInt8(ascii: " "))
        out.writeString(target)
        out.writeStaticString(" HTTP/1.1\r\n")
        if let authority {
            out.writeStaticString("host: ")
            out.writeString(authority)
            out.writeStaticString("\r\n")
        }
        for (name, value, _) in headers where name.utf8.first != UInt8(ascii: ":") {
            switch name {
            case "host" where authority != nil:
                continue
            case "cookie":
                cookies.append(value)
                continue
            default:
                break
            }
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if !cookies.isEmpty {
            out.writeStaticString("cookie: ")
            out.writeString(cookies.joined(separator: "; "))
            out.writeStaticString("\r\n")
        }
        if framing == .chunked { out.writeStaticString("transfer-encoding: chunked\r\n") }
        out.writeStaticString("\r\n")
        return Head(bytes: out, framing: framing, isHEAD: method == "HEAD")
    }

    /// Trailers of a chunked request body: the last chunk, the fields, the empty line.
    public static func lastChunk(trailers: HPACKHeaders?, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: 5)
        out.writeStaticString("0\r\n")
        for (name, value, _) in trailers ?? [:] where name.utf8.first != UInt8(ascii: ":") && isFieldValue(value) {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        return out
    }

    /// A DATA frame's bytes as one chunk.
    public static func chunk(_ data: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: data.readableBytes + 12)
        out.writeString(String(data.readableBytes, radix: 16))
        out.writeStaticString("\r\n")
        out.writeImmutableBuffer(data)
        out.writeStaticString("\r\n")
        return out
    }

    // MARK: - Checks

    static func isToken(_ s: String) -> Bool {
        guard !s.isEmpty else { return false }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
                UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
                UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// A request target or authority: visible ASCII (and UTF-8) without spaces or controls.
    static func isTarget(_ s: String) -> Bool {
        for byte in s.utf8 where byte <= 0x20 || byte == 0x7F { return false }
        return true
    }

    /// A field value: no CR, LF or NUL (RFC 9113 §8.2.1), which would end the HTTP/1.1 line.
    static func isFieldValue(_ s: String) -> Bool {
        for byte in s.utf8 where byte == 0x0D || byte == 0x0A || byte == 0x00 { return false }
        return true
    }
}
