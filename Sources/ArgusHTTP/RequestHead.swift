import NIOCore

/// A parsed request head: the raw bytes plus offsets into them. Nothing is copied into Strings
/// unless the proxy asks for one (the router needs the method, host and path).
public struct RequestHead: Sendable {
    /// The head's bytes, request line to the final empty line inclusive.
    public let bytes: ByteBuffer
    public let method: Range<Int>
    public let target: Range<Int>
    /// The path part of the target (origin-form, or the path of an absolute-form target).
    public let path: Range<Int>
    /// The query including its leading `?`, empty range when absent.
    public let query: Range<Int>
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public let minorVersion: Int
    public let fields: [HeaderField]
    public let framing: BodyFraming
    /// The client asked to keep the connection open (HTTP/1.1 default, or 1.0 with keep-alive).
    public let keepAlive: Bool
    public let expectContinue: Bool
    /// Host without port, from the absolute-form target or the Host header; empty when absent (HTTP/1.0).
    public let host: Range<Int>
    /// The port given in the Host header or target, nil when absent.
    public let hostPort: Int?
    /// Lower-cased names listed in `Connection` other than keep-alive/close/upgrade: stripped when forwarding.
    public let connectionNominated: [String]

    public func string(_ range: Range<Int>) -> String {
        bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
    }

    public var methodString: String { string(method) }
    public var hostString: String { string(host) }
    public var isHEAD: Bool {
        guard method.count == 4 else { return false }
        return bytes.withUnsafeReadableBytes { raw in
            let m = method.lowerBound
            return raw[m] == UInt8(ascii: "H") && raw[m + 1] == UInt8(ascii: "E") && raw[m + 2] == UInt8(ascii: "A")
                && raw[m + 3] == UInt8(ascii: "D")
        }
    }

    /// Values of the headers whose name equals `lowercasedName` (any case in the request).
    public func values(forLowercasedName lowercasedName: String) -> [String] {
        HeaderField.values(in: bytes, fields, lowercasedName: lowercasedName)
    }

    /// Where the first header named `lowercasedName` (its bytes) has its value in ``bytes``, and how
    /// many headers have that name; no allocation.
    public func valueRange(forLowercasedName lowercasedName: [UInt8]) -> (first: Range<Int>?, count: Int) {
        var first: Range<Int>?
        var count = 0
        bytes.withUnsafeReadableBytes { raw in
            for field in fields where field.isNamed(lowercasedName, in: raw) {
                count += 1
                if first == nil { first = field.valueStart..<(field.valueStart + field.valueLength) }
            }
        }
        return (first, count)
    }

    /// The value of the first header with this name.
    public func firstValue(of name: HeaderName) -> String? {
        guard let field = fields.first(where: { $0.name == name }) else { return nil }
        return string(field.valueStart..<(field.valueStart + field.valueLength))
    }

    /// True when `field`'s name is nominated by the Connection header. Framing headers and Host are
    /// never dropped this way (Argus writes them itself), so `Connection: content-length` can not
    /// unframe a body.
    public func isNominated(_ field: HeaderField) -> Bool {
        guard !connectionNominated.isEmpty else { return false }
        switch field.name {
        case .contentLength, .transferEncoding, .host: return false
        default: break
        }
        return bytes.withUnsafeReadableBytes { field.isNamed(byAnyOf: connectionNominated, in: $0) }
    }
}
