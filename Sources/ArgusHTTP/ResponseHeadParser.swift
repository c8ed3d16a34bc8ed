import NIOCore

/// Strict parser of upstream response heads. Anything ambiguous is an error: the client gets a 502
/// and the upstream connection is closed, never reused.
public struct ResponseHeadParser: Sendable {
    public enum Result: Sendable {
        case needMore
        /// A 1xx other than 101: consumed; keep waiting for the final response.
        case informational(status: Int)
        case head(ResponseHead)
        case error(HTTPParseError)
    }

    public var maxHeadLength: Int
    private var scanned = 0
    /// A field array handed back by `recycle`, reused by the next parse when nothing else holds it.
    private var spareFields: [HeaderField]?

    /// Hands back the fields of a head that is no longer needed, so the next parse can reuse their storage.
    public mutating func recycle(_ fields: [HeaderField]) {
        spareFields = fields
    }

    public init(maxHeadLength: Int = 65536) {
        self.maxHeadLength = maxHeadLength
    }

    public mutating func parse(_ buffer: inout ByteBuffer, requestWasHEAD: Bool) -> Result {
        let result: Result = buffer.withUnsafeReadableBytes { raw -> Result in
            do throws(HTTPParseError) {
                guard let end = try HeaderBlockParser.findHeadEnd(raw, from: max(0, scanned - 3)) else {
                    scanned = raw.count
                    return raw.count > maxHeadLength ? .error(.headersTooLarge) : .needMore
                }
                if end > maxHeadLength { return .error(.headersTooLarge) }
                return try Self.parseHead(raw, end: end, buffer: buffer, requestWasHEAD: requestWasHEAD, fields: spareFields.take() ?? [])
            } catch {
                return .error(error)
            }
        }
        switch result {
        case .head(let head):
            buffer.moveReaderIndex(forwardBy: head.bytes.readableBytes)
            scanned = 0
        case .informational:
            _ = buffer.withUnsafeReadableBytes { raw in
                try? HeaderBlockParser.findHeadEnd(raw, from: 0)
            }.map { buffer.moveReaderIndex(forwardBy: $0) }
            scanned = 0
        default:
            break
        }
        return result
    }

    private static func parseHead(
        _ raw: UnsafeRawBufferPointer, end: Int, buffer: ByteBuffer, requestWasHEAD: Bool, fields: [HeaderField]
    ) throws(HTTPParseError) -> Result {
        guard let firstLF = HeaderBlockParser.firstLF(raw, from: 0), firstLF >= 13 else { throw .badStatusLine }
        // HTTP/1.x SP 3DIGIT SP reason
        guard raw[0] == UInt8(ascii: "H"), raw[1] == UInt8(ascii: "T"), raw[2] == UInt8(ascii: "T"),
            raw[3] == UInt8(ascii: "P"), raw[4] == UInt8(ascii: "/"), raw[5] == UInt8(ascii: "1"),
            raw[6] == UInt8(ascii: "."), raw[7] == UInt8(ascii: "0") || raw[7] == UInt8(ascii: "1"),
            raw[8] == ASCII.space
        else { throw .badStatusLine }
        var status = 0
        for i in 9..<12 {
            let digit = Int(raw[i]) - 48
            guard digit >= 0 && digit <= 9 else { throw .badStatusLine }
            status = status * 10 + digit
        }
        guard status >= 100, raw[12] == ASCII.space || (raw[12] == ASCII.cr && firstLF == 13) else { throw .badStatusLine }
        if firstLF > 14 {
            for i in 13..<(firstLF - 1) where !ASCII.isFieldValue(raw[i]) { throw .badStatusLine }
        }
        let minorVersion = Int(raw[7] - 48)
        if status < 200 && status != 101 { return .informational(status: status) }

        var fields = fields
        fields.removeAll(keepingCapacity: true)
        fields.reserveCapacity(16)
        try HeaderBlockParser.parseFields(raw, start: firstLF + 1, end: end - 2, into: &fields)

        var contentLength: Int?
        var sawTransferEncoding = false
        var keepAlive = minorVersion == 1
        var nominated: [String] = []
        for field in fields {
            switch field.name {
            case .contentLength:
                let value = try HeaderBlockParser.parseContentLength(raw, field)
                if let previous = contentLength, previous != value { throw .duplicateContentLength }
                contentLength = value
            case .transferEncoding:
                if sawTransferEncoding || !HeaderBlockParser.isChunkedOnly(raw, field) { throw .unsupportedTransferEncoding }
                sawTransferEncoding = true
            case .connection:
                HeaderBlockParser.forEachToken(raw, field) { start, length in
                    if ASCII.equalsLowercased(raw, start, length, "close") {
                        keepAlive = false
                    } else if ASCII.equalsLowercased(raw, start, length, "keep-alive") {
                        keepAlive = keepAlive || minorVersion == 0
                    } else {
                        let token = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                        nominated.append(String(decoding: token.map(ASCII.lower), as: UTF8.self))
                    }
                }
            default:
                break
            }
        }
        if sawTransferEncoding && contentLength != nil { throw .contentLengthWithTransferEncoding }

        let framing: BodyFraming
        if requestWasHEAD || status == 204 || status == 304 || status == 101 {
            framing = .none
        } else if sawTransferEncoding {
            framing = .chunked
        } else if let length = contentLength {
            framing = length > 0 ? .length(length) : .none
        } else {
            framing = .untilClose
            keepAlive = false
        }
        return .head(
            ResponseHead(
                bytes: buffer.getSlice(at: buffer.readerIndex, length: end)!, status: status, minorVersion: minorVersion,
                fields: fields, framing: framing, keepAlive: keepAlive && status != 101, connectionNominated: nominated
            )
        )
    }
}
