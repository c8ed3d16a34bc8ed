import ArgusSnapshot
import ArgusHTTP
import NIOCore

/// Reads one request body out of a connection's bytes, however it is framed (`Content-Length`,
/// chunked, or none): the one reader behind streaming a body upstream, reading it whole for a
/// plugin, and dropping it after a gateway answer. Pure: bytes in, payload slices out.
struct BodyReader {
    enum Progress: Equatable {
        /// The body goes on in bytes not received yet.
        case needMore
        /// The whole body was read; bytes after it stay in the buffer (a pipelined request).
        case complete
        /// More than `limit` payload bytes: the slice that crossed it was not delivered.
        case overLimit
        /// The chunked framing is broken: the connection can not be read any further.
        case malformed
    }

    private enum Remaining {
        case length(Int)
        case chunked(ChunkedDecoder)
        case done
    }

    private var remaining: Remaining
    /// Payload bytes delivered so far.
    private(set) var bytesRead = 0
    /// Payload bytes past which reading stops with `.overLimit` (nil: no limit).
    let limit: Int?

    init(_ framing: BodyFraming, limit: Int? = nil) {
        self.limit = limit
        switch framing {
        case .length(let n) where n > 0: remaining = .length(n)
        case .chunked: remaining = .chunked(ChunkedDecoder())
        case .length, .none, .untilClose: remaining = .done  // a request body is never "until close"
        }
    }

    var isComplete: Bool {
        if case .done = remaining { return true }
        return false
    }

    /// Content-Length bytes still to come (nil for a chunked body).
    var remainingLength: Int? {
        switch remaining {
        case .length(let n): return n
        case .done: return 0
        case .chunked: return nil
        }
    }

    /// Takes what `buffer` holds of the body, passing each payload slice to `deliver` in order,
    /// and leaves whatever follows the body in `buffer`.
    mutating func read(_ buffer: inout ByteBuffer, deliver: (ByteBuffer) -> Void) -> Progress {
        switch remaining {
        case .done:
            return .complete
        case .length(let n):
            let take = min(n, buffer.readableBytes)
            if take > 0 {
                if let limit, bytesRead + take > limit { return .overLimit }
                bytesRead += take
                deliver(buffer.readSlice(length: take)!)
            }
            remaining = n == take ? .done : .length(n - take)
            return n == take ? .complete : .needMore
        case .chunked(var decoder):
            remaining = .done  // (not copied while the decoder is mutated)
            var over = false
            var read = bytesRead
            let limit = self.limit
            do {
                try decoder.decode(&buffer) { slice in
                    if over { return }
                    if let limit, read + slice.readableBytes > limit {
                        over = true
                        return
                    }
                    read += slice.readableBytes
                    deliver(slice)
                }
            } catch {
                bytesRead = read
                remaining = .chunked(decoder)
                return .malformed
            }
            bytesRead = read
            if over {
                remaining = .chunked(decoder)
                return .overLimit
            }
            if decoder.isComplete { return .complete }
            remaining = .chunked(decoder)
            return .needMore
        }
    }
}
