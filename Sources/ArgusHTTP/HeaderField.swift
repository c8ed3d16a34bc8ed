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
