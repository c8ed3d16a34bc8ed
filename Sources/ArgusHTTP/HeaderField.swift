/// One header line of a parsed head, as offsets into the head's bytes (no copy, no String).
public struct HeaderField: Sendable {
    public var name: HeaderName
    public var nameStart: Int
    public var nameLength: Int
    /// The value without leading and trailing whitespace.
    public var valueStart: Int
    public var valueLength: Int

    /// The whole line `name: value` without its CRLF, for copying through verbatim.
    public var lineRange: Range<Int> { nameStart..<(valueStart + valueLength) }
}
