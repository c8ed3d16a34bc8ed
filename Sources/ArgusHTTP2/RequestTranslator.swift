import ArgusHTTP
import NIOCore
import NIOHPACK

/// The HTTP/1.1 request the data path writes to an upstream, as the contents of an HTTP/2
/// stream's frames (the way to a `grpc`/`grpcs` service): the head becomes a HEADERS block
/// (`:method`, `:scheme`, `:authority` from `Host`, `:path`; names in lower case, the fields
/// HTTP/2 forbids dropped, `te: trailers` as nginx's `grpc_pass` sends it), the body DATA without
/// its HTTP/1.1 framing, and the body's end the end of the stream (a chunked body's trailer
/// section a HEADERS block that ends it). Pure.
public struct RequestTranslator {
    public typealias Part = ResponseTranslator.Part

    /// What was written is not an HTTP/1.1 request the translator can carry (a bug before it):
    /// the stream is reset.
    public struct Untranslatable: Error, Sendable {
        public var reason: String
    }

    private enum State {
        case head
        case body(BodyDeframer)
        case complete
    }

    private var state = State.head
    private var parser: RequestHeadParser
    private var pending = ByteBuffer()
    private let scheme: String
    /// The request was HEAD (its response has no body whatever its length says).
    public private(set) var isHEAD = false

    /// Names an HTTP/2 request must not carry (RFC 9113 §8.2.2), and `host` (the authority).
    static let dropped: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te"]

    /// - Parameter scheme: `:scheme`, `http` or `https` (the connection's).
    public init(scheme: String, maxHeadLength: Int = 65536) {
        self.scheme = scheme
        self.parser = RequestHeadParser(maxRequestLineLength: maxHeadLength, maxHeadLength: maxHeadLength)
    }

    /// The whole request went through (its end was emitted).
    public var isComplete: Bool {
        switch state {
        case .complete: return true
        case .body(let body): return body.isComplete
        case .head: return false
        }
    }

    /// The head was translated (what follows is body).
    public var sentHead: Bool {
        if case .head = state { return false }
        return true
    }

    /// Translates what the writer wrote next.
    public mutating func feed(_ bytes: ByteBuffer, emit: (Part) -> Void) throws(Untranslatable) {
        var bytes = bytes
        while bytes.readableBytes > 0 {
            switch state {
            case .head:
                if pending.readableBytes == 0 {
                    pending = bytes
                } else {
                    pending.writeBuffer(&bytes)
                }
                bytes = ByteBuffer()
                try parseHead(emit: emit)
                if pending.readableBytes > 0, sentHead {
                    bytes = pending
                    pending = ByteBuffer()
                }
            case .body(var body):
                state = .complete  // (the deframer is not copied while it works)
                do {
                    try body.feed(&bytes, emit: emit)
                } catch {
                    throw Untranslatable(reason: "bad chunked body: \(error)")
                }
                state = .body(body)
                if body.isComplete { return }
            case .complete:
                return
            }
        }
    }

    private mutating func parseHead(emit: (Part) -> Void) throws(Untranslatable) {
        switch parser.parse(&pending) {
        case .needMore:
            return
        case .error(let error):
            throw Untranslatable(reason: "bad request head: \(error)")
        case .head(let head):
            isHEAD = head.isHEAD
            let fields = Self.fields(of: head, scheme: scheme)
            switch head.framing {
            case .none, .length(0), .untilClose:
                state = .complete
                emit(.headers(fields, endStream: true))
            case .length(let n):
                state = .body(BodyDeframer(.length(n)))
                emit(.headers(fields, endStream: false))
            case .chunked:
                state = .body(BodyDeframer(.chunked))
                emit(.headers(fields, endStream: false))
            }
            parser.recycle(head)
        }
    }

    static func fields(of head: RequestHead, scheme: String) -> HPACKHeaders {
        var out = HPACKHeaders()
        out.reserveCapacity(head.fields.count + 5)
        out.add(name: ":method", value: head.methodString)
        out.add(name: ":scheme", value: scheme)
        if let host = head.firstValue(of: .host), !host.isEmpty { out.add(name: ":authority", value: host) }
        out.add(name: ":path", value: head.string(head.target))
        head.bytes.withUnsafeReadableBytes { raw in
            for field in head.fields {
                let name = ResponseTranslator.lowercasedName(
                    UnsafeRawBufferPointer(rebasing: raw[field.nameStart..<(field.nameStart + field.nameLength)]))
                if dropped.contains(name) || head.isNominated(field) { continue }
                out.add(
                    name: name, value: String(decoding: raw[field.valueStart..<(field.valueStart + field.valueLength)], as: UTF8.self),
                    indexing: ResponseTranslator.indexing(name))
            }
        }
        out.add(name: "te", value: "trailers")
        return out
    }
}
