import ArgusHTTP
import NIOCore

/// Reads a response head the data path wrote for an HTTP/2 stream (`HTTP/1.1 200 OK`, its fields,
/// the empty line) and writes it as an HPACK block in the same pass: `:status`, then the fields in
/// lower case without the connection-specific ones (RFC 9113 §8.2.2), each name from the static
/// table where it has it (``HeaderBlockEncoder``). It also tells how the body that follows is
/// framed, by the rules of RFC 9112 §6.3 that ``ResponseHeadParser`` applies to upstreams.
///
/// The head was made by Argus's own response writer from a head its strict parser accepted, so this
/// checks only what it relies on (a status line, a colon in each field line, a length made of
/// digits); anything else is ``Malformed`` and the stream is reset. (The general parser, run
/// again here, was the largest single cost of an HTTP/2 response: `bench/h2-bench.sh`.) Pure.
enum WrittenHeadReader {
    enum Result {
        case needMore
        /// A 1xx head other than 101, `length` bytes long: its own HEADERS block.
        case informational(status: Int, length: Int)
        /// The final head, `length` bytes long.
        case head(block: ByteBuffer, framing: BodyFraming, length: Int)
    }

    struct Malformed: Error {
        var reason: String
    }

    static func read(_ bytes: ByteBuffer, from scanned: Int, requestWasHEAD: Bool, maxHeadLength: Int) throws(Malformed) -> Result {
        let found: Int? = bytes.withUnsafeReadableBytes { raw in headEnd(raw, from: max(0, scanned - 3)) }
        guard let end = found else {
            if bytes.readableBytes > maxHeadLength { throw Malformed(reason: "the response head is over \(maxHeadLength) bytes") }
            return .needMore
        }
        guard end <= maxHeadLength else { throw Malformed(reason: "the response head is over \(maxHeadLength) bytes") }
        return try bytes.withUnsafeReadableBytes { raw throws(Malformed) -> Result in
            try translate(UnsafeRawBufferPointer(rebasing: raw[0..<end]), requestWasHEAD: requestWasHEAD)
        }
    }

    /// The length of the head through its empty line, if it is all there.
    static func headEnd(_ raw: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard raw.count >= 4 else { return nil }
        var i = start
        while i + 3 < raw.count {
            if raw[i + 3] != 0x0A {
                i += raw[i + 3] == 0x0D ? 1 : 4
                continue
            }
            if raw[i] == 0x0D && raw[i + 1] == 0x0A && raw[i + 2] == 0x0D { return i + 4 }
            i += 1
        }
        return nil
    }

    private static func translate(_ head: UnsafeRawBufferPointer, requestWasHEAD: Bool) throws(Malformed) -> Result {
        // HTTP/1.x SP 3DIGIT
        guard head.count >= 16, head[8] == UInt8(ascii: " ") else { throw Malformed(reason: "no status line") }
        var status = 0
        for i in 9..<12 {
            let digit = Int(head[i]) &- 48
            guard digit >= 0 && digit <= 9 else { throw Malformed(reason: "no status code") }
            status = status * 10 + digit
        }
        var lineStart = 12
        while lineStart < head.count && head[lineStart] != 0x0A { lineStart += 1 }
        lineStart += 1
        // (a 101 is no HTTP/2 response, §8.6: the stream is reset)
        guard status != 101 else { throw Malformed(reason: "101 Switching Protocols on an HTTP/2 stream") }
        if status < 200 { return .informational(status: status, length: head.count) }

        var block = ByteBuffer()
        block.reserveCapacity(head.count + 32)
        HeaderBlockEncoder.writeStatus(status, into: &block)
        var contentLength: Int?
        var chunked = false
        let end = head.count - 2  // (the empty line's CR)
        while lineStart < end {
            var colon = lineStart
            while colon < end && head[colon] != UInt8(ascii: ":") { colon += 1 }
            var lineEnd = colon
            while lineEnd < end && head[lineEnd] != 0x0D { lineEnd += 1 }
            guard colon < lineEnd, colon > lineStart else { throw Malformed(reason: "a field line without a name") }
            var valueStart = colon + 1
            while valueStart < lineEnd && (head[valueStart] == 0x20 || head[valueStart] == 0x09) { valueStart += 1 }
            var valueEnd = lineEnd
            while valueEnd > valueStart && (head[valueEnd - 1] == 0x20 || head[valueEnd - 1] == 0x09) { valueEnd -= 1 }
            let name = UnsafeRawBufferPointer(rebasing: head[lineStart..<colon])
            let value = UnsafeRawBufferPointer(rebasing: head[valueStart..<valueEnd])
            if HeaderBlockEncoder.isConnectionSpecific(name) {
                if HeaderBlockEncoder.equalsLowered(name, "transfer-encoding") { chunked = true }
            } else {
                if HeaderBlockEncoder.equalsLowered(name, "content-length") { contentLength = try length(value) }
                HeaderBlockEncoder.writeField(name: name, value: value, into: &block)
            }
            lineStart = lineEnd + 2
        }
        let framing: BodyFraming
        if requestWasHEAD || status == 204 || status == 304 {
            framing = .none
        } else if chunked {
            framing = .chunked
        } else if let contentLength {
            framing = contentLength > 0 ? .length(contentLength) : .none
        } else {
            framing = .untilClose
        }
        return .head(block: block, framing: framing, length: head.count)
    }

    private static func length(_ value: UnsafeRawBufferPointer) throws(Malformed) -> Int {
        guard !value.isEmpty, value.count <= 18 else { throw Malformed(reason: "a bad content-length") }
        var n = 0
        for byte in value {
            let digit = Int(byte) &- 48
            guard digit >= 0 && digit <= 9 else { throw Malformed(reason: "a bad content-length") }
            n = n * 10 + digit
        }
        return n
    }
}
