import ArgusHTTP
import NIOCore
import NIOHPACK

/// The HTTP/1.1 response the data path writes for a stream, as HTTP/2 frames' contents: the head
/// becomes a HEADERS block (`:status`, names in lower case, connection-specific fields dropped as
/// RFC 9113 §8.2.2 requires), the body DATA without its HTTP/1.1 framing, and the body's end (its
/// length reached, the last chunk, or the writer's end for a close-delimited body) the end of the
/// stream; a chunked body's trailer section is a HEADERS block that ends the stream. Interim responses (`100 Continue`) are HEADERS of their own. Pure.
public struct ResponseTranslator {
    public enum Part {
        case headers(HPACKHeaders, endStream: Bool)
        /// The final response head, already an HPACK block (``HeaderBlockEncoder``): written from
        /// the head's bytes, with no field made into a String.
        case headBlock(ByteBuffer, endStream: Bool)
        case data(ByteBuffer, endStream: Bool)
    }

    /// The bytes written are not an HTTP/1.1 response the translator can carry (a bug upstream of
    /// it, or a head over the limit): the stream is reset.
    public struct Untranslatable: Error, Sendable {
        public var reason: String
    }

    private enum State {
        case head
        case body(BodyDeframer)
        case complete
    }

    private var state = State.head
    private var pending = ByteBuffer()
    /// How much of `pending` was searched for the head's end already.
    private var scanned = 0
    private let requestWasHEAD: Bool
    private let maxHeadLength: Int

    public init(requestWasHEAD: Bool, maxHeadLength: Int = 65536) {
        self.requestWasHEAD = requestWasHEAD
        self.maxHeadLength = maxHeadLength
    }

    /// The whole response went through (its end was emitted).
    public var isComplete: Bool {
        switch state {
        case .complete: return true
        case .body(let body): return body.isComplete
        case .head: return false
        }
    }

    /// The final head was translated (what follows is body).
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
                try parseHeads(emit: emit)
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
                return  // (nothing follows a complete response on a stream)
            }
        }
    }

    /// The writer ended the response: a close-delimited body ends here. Throws when the response
    /// was not complete (cut off: the stream is reset rather than ended as if whole).
    public mutating func finish(emit: (Part) -> Void) throws(Untranslatable) {
        switch state {
        case .complete:
            return
        case .head:
            throw Untranslatable(reason: "the response ended before its head")
        case .body(var body):
            let whole = body.finish(emit: emit)
            state = .body(body)
            if !whole { throw Untranslatable(reason: "the response ended before its body") }
        }
    }

    private mutating func parseHeads(emit: (Part) -> Void) throws(Untranslatable) {
        while case .head = state {
            let result: WrittenHeadReader.Result
            do {
                result = try WrittenHeadReader.read(pending, from: scanned, requestWasHEAD: requestWasHEAD, maxHeadLength: maxHeadLength)
            } catch {
                throw Untranslatable(reason: "bad response head: \(error.reason)")
            }
            switch result {
            case .needMore:
                scanned = pending.readableBytes
                return
            case .informational(let status, let length):
                pending.moveReaderIndex(forwardBy: length)
                scanned = 0
                emit(.headers(HPACKHeaders([(":status", String(status))]), endStream: false))
            case .head(let block, let framing, let length):
                pending.moveReaderIndex(forwardBy: length)
                scanned = 0
                switch framing {
                case .none, .length(0):
                    state = .complete
                    emit(.headBlock(block, endStream: true))
                case .length(let n):
                    state = .body(BodyDeframer(.length(n)))
                    emit(.headBlock(block, endStream: false))
                case .chunked:
                    state = .body(BodyDeframer(.chunked))
                    emit(.headBlock(block, endStream: false))
                case .untilClose:
                    state = .body(BodyDeframer(.untilClose))
                    emit(.headBlock(block, endStream: false))
                }
            }
        }
    }

    /// A chunked body's trailer section as a trailing HEADERS block (connection-specific fields dropped).
    static func trailers(_ lines: [UInt8]) -> HPACKHeaders {
        var out = HPACKHeaders()
        for (name, value) in ChunkedDecoder.fields(ofLines: lines) where !HeaderBlockEncoder.isConnectionSpecific(name) && !name.hasPrefix(":") {
            out.add(name: name, value: value, indexing: .nonIndexable)
        }
        return out
    }

    /// Fields whose values differ from one response to the next are not entered into the HPACK
    /// table (they would only push out the ones that repeat, and make every lookup longer);
    /// cookies are never indexed (RFC 7541 §7.1.3).
    static func indexing(_ name: String) -> HPACKIndexing {
        switch name {
        case "date", "content-length", "x-kong-request-id", "x-kong-upstream-latency", "x-kong-proxy-latency",
            "x-kong-response-latency", "age", "etag", "last-modified", "expires", "retry-after", "location",
            "content-range", "x-request-id", "ratelimit-remaining", "ratelimit-reset", "x-kong-upstream-status":
            return .nonIndexable
        case "set-cookie":
            return .neverIndexed
        default:
            return name.hasPrefix("x-ratelimit-remaining") ? .nonIndexable : .indexable
        }
    }

    /// A field name in lower case (HTTP/2 requires it), made in one pass.
    static func lowercasedName(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count) { out in
            for (i, byte) in bytes.enumerated() {
                out[i] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            }
            return bytes.count
        }
    }
}
