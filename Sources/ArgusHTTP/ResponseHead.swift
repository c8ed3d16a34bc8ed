import NIOCore

/// A parsed response head from an upstream, as offsets into its bytes.
public struct ResponseHead: Sendable {
    public let bytes: ByteBuffer
    public let status: Int
    public let minorVersion: Int
    public let fields: [HeaderField]
    public let framing: BodyFraming
    /// False when the upstream connection must not be reused after this response.
    public let keepAlive: Bool
    /// Lower-cased names listed in the upstream's `Connection`: stripped before the client sees them.
    public let connectionNominated: [String]

    public func string(_ range: Range<Int>) -> String {
        bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
    }

    /// Values of the headers whose name equals `lowercasedName` (any case in the response).
    public func values(forLowercasedName lowercasedName: String) -> [String] {
        HeaderField.values(in: bytes, fields, lowercasedName: lowercasedName)
    }

    public func firstValue(of name: HeaderName) -> String? {
        guard let field = fields.first(where: { $0.name == name }) else { return nil }
        return string(field.valueStart..<(field.valueStart + field.valueLength))
    }

    public func isNominated(_ field: HeaderField) -> Bool {
        guard !connectionNominated.isEmpty else { return false }
        switch field.name {
        case .contentLength, .transferEncoding: return false
        default: break
        }
        return bytes.withUnsafeReadableBytes { field.isNamed(byAnyOf: connectionNominated, in: $0) }
    }
}
