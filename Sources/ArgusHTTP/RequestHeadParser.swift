import NIOCore

/// Incremental, strict parser of HTTP/1.1 request heads (RFC 9112). Feed it the connection's
/// cumulation buffer; it consumes a complete head and leaves the body bytes in place.
public struct RequestHeadParser: Sendable {
    public enum Result: Sendable {
        case needMore
        case head(RequestHead)
        case error(HTTPParseError)
    }

    /// Longest request line accepted (414 past it).
    public var maxRequestLineLength: Int
    /// Largest head accepted (431 past it).
    public var maxHeadLength: Int
    private var scanned = 0
    /// A field array handed back by `recycle`, reused by the next parse when nothing else holds it.
    private var spareFields: [HeaderField]?

    /// The bytes of a head handed back by `recycle`, reused likewise.
    private var spareBytes: ByteBuffer?

    /// Hands back the fields of a head that is no longer needed, so the next parse can reuse their storage.
    public mutating func recycle(_ fields: [HeaderField]) {
        spareFields = fields
    }

    /// Hands back a head that is no longer needed: its fields and its bytes are reused by the
    /// next parse (when nothing else holds them by then).
    public mutating func recycle(_ head: RequestHead) {
        spareFields = head.fields
        // A large head's storage is not kept for the connection's life.
        spareBytes = head.bytes.capacity <= 4096 ? head.bytes : nil
    }

    public init(maxRequestLineLength: Int = 8192, maxHeadLength: Int = 32768) {
        self.maxRequestLineLength = maxRequestLineLength
        self.maxHeadLength = maxHeadLength
    }

    public mutating func parse(_ buffer: inout ByteBuffer) -> Result {
        // RFC 9112 §2.2: ignore at least one empty line before the request line.
        while buffer.readableBytes >= 2,
            buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A
        {
            buffer.moveReaderIndex(forwardBy: 2)
            scanned = 0
        }
        let found: Result? = buffer.withUnsafeReadableBytes { raw -> Result? in
            do throws(HTTPParseError) {
                guard let end = try HeaderBlockParser.findHeadEnd(raw, from: max(0, scanned - 3)) else {
                    if raw.count > maxHeadLength { return .error(.headersTooLarge) }
                    // The request line so far, not counting a CR whose LF has not arrived yet.
                    let lineSoFar = raw.count - (raw.last == ASCII.cr ? 1 : 0)
                    if lineSoFar > maxRequestLineLength && HeaderBlockParser.firstLF(raw, from: 0) == nil {
                        return .error(.uriTooLong)
                    }
                    scanned = raw.count
                    return .needMore
                }
                if end > maxHeadLength { return .error(.headersTooLarge) }
                return .head(try Self.parseHead(raw, end: end, maxRequestLine: maxRequestLineLength, fields: spareFields.take() ?? [], storage: spareBytes.take()))
            } catch {
                return .error(error)
            }
        }
        if case .head(let head) = found {
            buffer.moveReaderIndex(forwardBy: head.bytes.readableBytes)
            scanned = 0
        }
        return found ?? .needMore
    }

    private static func parseHead(
        _ raw: UnsafeRawBufferPointer, end: Int, maxRequestLine: Int, fields: [HeaderField], storage: ByteBuffer?
    ) throws(HTTPParseError) -> RequestHead {
        guard let firstLF = HeaderBlockParser.firstLF(raw, from: 0), firstLF >= 1 else { throw .badRequestLine }
        let lineEnd = firstLF - 1
        if lineEnd > maxRequestLine { throw .uriTooLong }
        let line = try RequestLine(raw, end: lineEnd)

        var fields = fields
        fields.removeAll(keepingCapacity: true)
        fields.reserveCapacity(16)
        try HeaderBlockParser.parseFields(raw, start: firstLF + 1, end: end - 2, into: &fields)

        var contentLength: Int?
        var chunked = false
        var sawTransferEncoding = false
        var hostField: HeaderField?
        var keepAlive = line.minorVersion == 1
        var expectContinue = false
        var nominated: [String] = []
        for field in fields {
            switch field.name {
            case .contentLength:
                if contentLength != nil { throw .duplicateContentLength }
                contentLength = try HeaderBlockParser.parseContentLength(raw, field)
            case .transferEncoding:
                if sawTransferEncoding { throw .unsupportedTransferEncoding }
                sawTransferEncoding = true
                guard HeaderBlockParser.isChunkedOnly(raw, field) else { throw .unsupportedTransferEncoding }
                chunked = true
            case .host:
                if hostField != nil { throw .duplicateHost }
                hostField = field
            case .connection:
                HeaderBlockParser.forEachToken(raw, field) { start, length in
                    if ASCII.equalsLowercased(raw, start, length, "close") {
                        keepAlive = false
                    } else if ASCII.equalsLowercased(raw, start, length, "keep-alive") {
                        keepAlive = keepAlive || line.minorVersion == 0
                    } else if !ASCII.equalsLowercased(raw, start, length, "upgrade") {
                        let token = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                        nominated.append(String(decoding: token.map(ASCII.lower), as: UTF8.self))
                    }
                }
            case .expect:
                guard ASCII.equalsLowercased(raw, field.valueStart, field.valueLength, "100-continue") else {
                    throw .unsupportedExpectation
                }
                expectContinue = line.minorVersion == 1
            default:
                break
            }
        }
        if sawTransferEncoding {
            if contentLength != nil { throw .contentLengthWithTransferEncoding }
            if line.minorVersion == 0 { throw .transferEncodingInHTTP10 }
        }
        if line.minorVersion == 1 && hostField == nil && line.absoluteHost == nil { throw .missingHost }

        var host = 0..<0
        var port: Int?
        if let absolute = line.absoluteHost {
            (host, port) = try HostValue.split(raw, absolute)
        } else if let field = hostField {
            (host, port) = try HostValue.split(raw, field.valueStart..<(field.valueStart + field.valueLength))
        }

        let framing: BodyFraming = chunked ? .chunked : (contentLength.map { $0 > 0 ? .length($0) : .none } ?? .none)
        // The head is copied out of the connection's buffer (into recycled storage), so that a
        // request in flight does not hold the buffer the next read wants to reuse.
        var bytes = storage ?? ByteBufferAllocator().buffer(capacity: max(end, 512))
        bytes.clear()
        bytes.writeBytes(UnsafeRawBufferPointer(rebasing: raw[0..<end]))
        return RequestHead(
            bytes: bytes, method: line.method, target: line.target,
            path: line.path, query: line.query, minorVersion: line.minorVersion, fields: fields, framing: framing,
            keepAlive: keepAlive, expectContinue: expectContinue && framing != .none, host: host, hostPort: port,
            connectionNominated: nominated
        )
    }
}
