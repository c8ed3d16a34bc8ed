import NIOCore

/// Incremental decoder of the chunked transfer coding (RFC 9112 §7.1). Strict: hex sizes only,
/// CRLF only, no control bytes in extensions; trailers are read and checked to be field lines
/// (`token ":" value`, like header lines); they are kept (``trailerLines``) when
/// ``keepsTrailers`` is set, else dropped.
public struct ChunkedDecoder: Sendable {
    private enum State: Sendable {
        case size(value: Int, digits: Int)
        case extensions
        case sizeLF
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailerLineStart
        case trailerName
        case trailerValue
        case trailerLF(empty: Bool)
        case done
    }

    private var state: State = .size(value: 0, digits: 0)
    public private(set) var isComplete = false
    private var trailerBytes = 0
    /// Keep the trailer section's field lines (a gRPC response's status is there).
    public var keepsTrailers: Bool
    /// The trailer section's field lines as they came (`name: value\r\n` each; empty without
    /// trailers), when ``keepsTrailers``.
    public private(set) var trailerLines: [UInt8] = []

    public init(keepsTrailers: Bool = false) {
        self.keepsTrailers = keepsTrailers
    }

    /// Decodes as much of `buffer` as possible, calling `emit` with each slice of payload.
    /// Stops after the last chunk's final CRLF, leaving any following bytes in `buffer`.
    public mutating func decode(_ buffer: inout ByteBuffer, emit: (ByteBuffer) -> Void) throws(HTTPParseError) {
        while buffer.readableBytes > 0 {
            if case .data(let remaining) = state {
                let take = min(remaining, buffer.readableBytes)
                emit(buffer.readSlice(length: take)!)
                state = remaining == take ? .dataCR : .data(remaining: remaining - take)
                continue
            }
            if case .done = state { return }
            let byte = buffer.readInteger(as: UInt8.self)!
            try step(byte)
        }
    }

    private mutating func step(_ byte: UInt8) throws(HTTPParseError) {
        switch state {
        case .size(let value, let digits):
            let hex = ASCII.hexValue(byte)
            if hex >= 0 {
                guard digits < 15 else { throw .badChunk }
                state = .size(value: value << 4 | Int(hex), digits: digits + 1)
            } else if digits > 0 && byte == ASCII.cr {
                state = .sizeLF
                pendingSize = value
            } else if digits > 0 && (byte == ASCII.semicolon || byte == ASCII.space || byte == ASCII.tab) {
                state = .extensions
                pendingSize = value
            } else {
                throw .badChunk
            }
        case .extensions:
            if byte == ASCII.cr {
                state = .sizeLF
            } else if byte != ASCII.tab && (byte < 32 || byte == 127) {
                throw .badChunk
            }
        case .sizeLF:
            guard byte == ASCII.lf else { throw .badChunk }
            state = pendingSize == 0 ? .trailerLineStart : .data(remaining: pendingSize)
        case .data:
            preconditionFailure("data is consumed in decode")
        case .dataCR:
            guard byte == ASCII.cr else { throw .badChunk }
            state = .dataLF
        case .dataLF:
            guard byte == ASCII.lf else { throw .badChunk }
            state = .size(value: 0, digits: 0)
        case .trailerLineStart:
            if byte == ASCII.cr {
                state = .trailerLF(empty: true)
            } else {
                try countTrailerByte()
                guard ASCII.isToken(byte) else { throw .badChunk }
                state = .trailerName
                keep(byte)
            }
        case .trailerName:
            try countTrailerByte()
            if byte == ASCII.colon {
                state = .trailerValue
            } else if !ASCII.isToken(byte) {
                throw .badChunk  // not a field line (e.g. a request line where a trailer should be)
            }
            keep(byte)
        case .trailerValue:
            if byte == ASCII.cr {
                state = .trailerLF(empty: false)
            } else {
                try countTrailerByte()
                guard byte == ASCII.tab || (byte >= 32 && byte != 127) else { throw .badChunk }
            }
            keep(byte)
        case .trailerLF(let empty):
            guard byte == ASCII.lf else { throw .badChunk }
            if empty {
                state = .done
                isComplete = true
            } else {
                state = .trailerLineStart
                keep(byte)
            }
        case .done:
            break
        }
    }

    @inline(__always)
    private mutating func keep(_ byte: UInt8) {
        if keepsTrailers { trailerLines.append(byte) }
    }

    /// Field lines (`name: value\r\n`…, as in ``trailerLines``) as names in lower case and values
    /// without surrounding blanks.
    public static func fields(ofLines lines: [UInt8]) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        for line in lines.split(separator: ASCII.lf) {
            guard let colon = line.firstIndex(of: ASCII.colon) else { continue }
            let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
            var value = line[line.index(after: colon)...]
            while let first = value.first, first == ASCII.space || first == ASCII.tab { value = value.dropFirst() }
            while let last = value.last, last == ASCII.space || last == ASCII.tab || last == ASCII.cr { value = value.dropLast() }
            out.append((name, String(decoding: value, as: UTF8.self)))
        }
        return out
    }

    private mutating func countTrailerByte() throws(HTTPParseError) {
        trailerBytes += 1
        guard trailerBytes <= 16384 else { throw .badChunk }
    }

    private var pendingSize = 0
}

/// Writes the chunked framing around payload the proxy forwards.
public enum ChunkedEncoder {
    public static func writeChunkHeader(_ size: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(String(size, radix: 16))
        buffer.writeStaticString("\r\n")
    }

    public static let lastChunk: StaticString = "0\r\n\r\n"
}
