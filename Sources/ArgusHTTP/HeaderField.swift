import NIOCore

/// One header line of a parsed head, as offsets into the head's bytes (no copy, no String).
public struct HeaderField: Sendable {
    public var name: HeaderName
    public var nameStart: Int
    public var nameLength: Int
    /// The value without leading and trailing whitespace.
    public var valueStart: Int
    public var valueLength: Int
    /// The name contains `_`: nginx's `ignore_invalid_headers` drops such headers, since CGI-style
    /// upstreams map `_` and `-` to the same name (`X_Real_IP` would pass for `X-Real-IP`).
    public var hasUnderscore: Bool = false

    /// The whole line `name: value` without its CRLF, for copying through verbatim.
    public var lineRange: Range<Int> { nameStart..<(valueStart + valueLength) }
}

extension HeaderField {
    /// True when this field's name, in any case, is `lowercasedName`.
    @inline(__always)
    public func isNamed(_ lowercasedName: some Collection<UInt8>, in raw: UnsafeRawBufferPointer) -> Bool {
        guard lowercasedName.count == nameLength else { return false }
        var i = nameStart
        for byte in lowercasedName {
            if ASCII.lower(raw[i]) != byte { return false }
            i += 1
        }
        return true
    }

    /// True when this field's name is one of `tokens` (lower-cased names from a `Connection` header).
    public func isNamed(byAnyOf tokens: [String], in raw: UnsafeRawBufferPointer) -> Bool {
        tokens.contains { isNamed($0.utf8, in: raw) }
    }
}

extension HeaderField {
    /// The values of the fields named `lowercasedName` (any case in the head), in order.
    static func values(in bytes: ByteBuffer, _ fields: [HeaderField], lowercasedName: String) -> [String] {
        var result: [String] = []
        let wanted = Array(lowercasedName.utf8)
        bytes.withUnsafeReadableBytes { raw in
            for field in fields where field.isNamed(wanted, in: raw) {
                result.append(String(decoding: UnsafeRawBufferPointer(rebasing: raw[field.valueStart..<(field.valueStart + field.valueLength)]), as: UTF8.self))
            }
        }
        return result
    }
}
