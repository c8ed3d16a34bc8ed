import ArgusHTTP
import NIOCore
import NIOHPACK

/// An HTTP/1.1 message body as the contents of HTTP/2 frames, whichever way it goes (a response
/// to a client, ``ResponseTranslator``; a request to a gRPC upstream, ``RequestTranslator``): its
/// bytes without their framing as DATA, its end (its length reached, the last chunk) the end of
/// the stream, a chunked body's trailer section a HEADERS block that ends it. Pure.
struct BodyDeframer {
    enum Framing {
        case length(Int)
        case chunked
        /// Until the writer's end (a close-delimited response).
        case untilClose
    }

    private enum State {
        case length(remaining: Int)
        case chunked(ChunkedDecoder)
        case untilClose
        case complete
    }

    private var state: State

    init(_ framing: Framing) {
        switch framing {
        case .length(let n): state = n == 0 ? .complete : .length(remaining: n)
        case .chunked: state = .chunked(ChunkedDecoder(keepsTrailers: true))
        case .untilClose: state = .untilClose
        }
    }

    var isComplete: Bool {
        if case .complete = state { return true }
        return false
    }

    var isUntilClose: Bool {
        if case .untilClose = state { return true }
        return false
    }

    /// Takes what `bytes` holds of the body (nothing past its end), emitting its parts.
    mutating func feed(_ bytes: inout ByteBuffer, emit: (ResponseTranslator.Part) -> Void) throws(HTTPParseError) {
        while bytes.readableBytes > 0 {
            switch state {
            case .length(let remaining):
                let take = min(remaining, bytes.readableBytes)
                let slice = bytes.readSlice(length: take)!
                state = remaining == take ? .complete : .length(remaining: remaining - take)
                emit(.data(slice, endStream: remaining == take))
            case .chunked(var decoder):
                state = .complete  // (the decoder is not copied while it decodes)
                try decoder.decode(&bytes) { emit(.data($0, endStream: false)) }
                if decoder.isComplete {
                    if decoder.trailerLines.isEmpty {
                        emit(.data(ByteBuffer(), endStream: true))
                    } else {
                        emit(.headers(ResponseTranslator.trailers(decoder.trailerLines), endStream: true))
                    }
                } else {
                    state = .chunked(decoder)
                }
            case .untilClose:
                emit(.data(bytes, endStream: false))
                bytes = ByteBuffer()
            case .complete:
                return  // (nothing follows a complete message on a stream)
            }
        }
    }

    /// The writer's end: a close-delimited body ends here; false when the body was not complete.
    mutating func finish(emit: (ResponseTranslator.Part) -> Void) -> Bool {
        switch state {
        case .complete:
            return true
        case .untilClose:
            state = .complete
            emit(.data(ByteBuffer(), endStream: true))
            return true
        case .length, .chunked:
            return false
        }
    }
}
