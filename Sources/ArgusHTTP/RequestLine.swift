/// `method SP request-target SP HTTP-version` (RFC 9112 §3), split into offsets.
struct RequestLine {
    var method: Range<Int>
    var target: Range<Int>
    var path: Range<Int>
    var query: Range<Int>
    var minorVersion: Int
    /// The authority of an absolute-form target (`http://host:port/path`).
    var absoluteHost: Range<Int>?

    init(_ raw: UnsafeRawBufferPointer, end: Int) throws(HTTPParseError) {
        var i = 0
        while i < end && ASCII.isToken(raw[i]) { i += 1 }
        guard i > 0, i < end, raw[i] == ASCII.space else { throw .badRequestLine }
        method = 0..<i
        i += 1
        let targetStart = i
        while i < end && ASCII.isTarget(raw[i]) { i += 1 }
        guard i > targetStart, i < end, raw[i] == ASCII.space else { throw .badRequestLine }
        target = targetStart..<i
        i += 1
        guard end - i == 8,
            raw[i] == UInt8(ascii: "H"), raw[i + 1] == UInt8(ascii: "T"), raw[i + 2] == UInt8(ascii: "T"),
            raw[i + 3] == UInt8(ascii: "P"), raw[i + 4] == UInt8(ascii: "/"), raw[i + 6] == UInt8(ascii: ".")
        else { throw .badRequestLine }
        let major = raw[i + 5]
        let minor = raw[i + 7]
        guard major >= 48 && major <= 57 && minor >= 48 && minor <= 57 else { throw .badRequestLine }
        guard major == UInt8(ascii: "1"), minor <= UInt8(ascii: "1") else { throw .unsupportedVersion }
        minorVersion = Int(minor - 48)

        // Origin-form `/path?query`, or absolute-form `http://authority/path?query`.
        var pathStart = target.lowerBound
        absoluteHost = nil
        if raw[pathStart] != UInt8(ascii: "/") {
            guard let (authority, rest) = Self.splitAbsolute(raw, target) else { throw .badRequestLine }
            absoluteHost = authority
            pathStart = rest
        }
        var q = pathStart
        while q < target.upperBound && raw[q] != UInt8(ascii: "?") { q += 1 }
        path = pathStart..<q
        query = q..<target.upperBound
    }

    /// Splits `http://authority/path` (scheme http or https, case-insensitive).
    private static func splitAbsolute(_ raw: UnsafeRawBufferPointer, _ target: Range<Int>) -> (Range<Int>, Int)? {
        var i = target.lowerBound
        let schemeStart = i
        while i < target.upperBound && raw[i] != ASCII.colon { i += 1 }
        let scheme = i - schemeStart
        guard ASCII.equalsLowercased(raw, schemeStart, scheme, "http") || ASCII.equalsLowercased(raw, schemeStart, scheme, "https"),
            i + 3 <= target.upperBound, raw[i + 1] == UInt8(ascii: "/"), raw[i + 2] == UInt8(ascii: "/")
        else { return nil }
        let authorityStart = i + 3
        var j = authorityStart
        while j < target.upperBound && raw[j] != UInt8(ascii: "/") && raw[j] != UInt8(ascii: "?") { j += 1 }
        guard j > authorityStart, j < target.upperBound, raw[j] == UInt8(ascii: "/") else { return nil }
        return (authorityStart..<j, j)
    }
}
