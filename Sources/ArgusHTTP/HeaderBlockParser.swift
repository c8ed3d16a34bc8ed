/// Parses the header lines of a request or response head (RFC 9112 §5), shared by both parsers.
///
/// Strict on purpose, since every ambiguity here is a request-smuggling vector: whitespace before
/// the colon, obs-fold, bare CR or LF, NUL and other controls in values are errors.
enum HeaderBlockParser {
    /// Finds the end of a head in `bytes`, starting the search at `from`.
    /// - Returns: the index just past the empty line, nil when more bytes are needed.
    /// - Throws: `bareLineEnding` on a LF not preceded by CR.
    static func findHeadEnd(_ bytes: UnsafeRawBufferPointer, from: Int) throws(HTTPParseError) -> Int? {
        var i = max(from, 0)
        let count = bytes.count
        while i < count {
            guard let lf = firstLF(bytes, from: i) else { return nil }
            if lf == 0 || bytes[lf - 1] != ASCII.cr { throw .bareLineEnding }
            // An empty line: CRLF right after the previous line's LF.
            if lf >= 3 && bytes[lf - 2] == ASCII.lf && bytes[lf - 3] == ASCII.cr { return lf + 1 }
            if lf == 1 { return lf + 1 }  // head starting with an empty line: caller rejects it
            i = lf + 1
        }
        return nil
    }

    @inline(__always)
    static func firstLF(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = from
        let count = bytes.count
        while i < count {
            if bytes[i] == ASCII.lf { return i }
            i += 1
        }
        return nil
    }

    /// Parses header lines between `start` and `end` (the index of the final empty line's CR).
    static func parseFields(
        _ bytes: UnsafeRawBufferPointer, start: Int, end: Int, into fields: inout [HeaderField]
    ) throws(HTTPParseError) {
        var lineStart = start
        while lineStart < end {
            guard let lf = firstLF(bytes, from: lineStart), lf <= end + 1 else { throw .badHeaderLine }
            let lineEnd = lf - 1  // index of CR
            try fields.append(parseLine(bytes, lineStart, lineEnd))
            lineStart = lf + 1
        }
    }

    @inline(__always)
    private static func parseLine(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) throws(HTTPParseError) -> HeaderField {
        let first = bytes[start]
        if first == ASCII.space || first == ASCII.tab { throw .obsFold }
        var i = start
        var underscore = false
        while i < end && ASCII.isToken(bytes[i]) {
            if bytes[i] == UInt8(ascii: "_") { underscore = true }
            i += 1
        }
        guard i < end, i > start else { throw .badHeaderLine }
        if bytes[i] != ASCII.colon {
            if bytes[i] == ASCII.space || bytes[i] == ASCII.tab { throw .whitespaceBeforeColon }
            throw .badHeaderLine
        }
        let nameLength = i - start
        i += 1
        while i < end && (bytes[i] == ASCII.space || bytes[i] == ASCII.tab) { i += 1 }
        let valueStart = i
        var valueEnd = valueStart
        while i < end {
            let byte = bytes[i]
            guard ASCII.isFieldValue(byte) else { throw .invalidFieldValue }
            i += 1
            if byte != ASCII.space && byte != ASCII.tab { valueEnd = i }
        }
        return HeaderField(
            name: HeaderName.classify(bytes, start, nameLength), nameStart: start, nameLength: nameLength,
            valueStart: valueStart, valueLength: valueEnd - valueStart, hasUnderscore: underscore
        )
    }

    /// Parses a Content-Length value: 1*DIGIT, no sign, no spaces, no list.
    static func parseContentLength(_ bytes: UnsafeRawBufferPointer, _ field: HeaderField) throws(HTTPParseError) -> Int {
        guard field.valueLength > 0, field.valueLength <= 18 else { throw .invalidContentLength }
        var value = 0
        for i in field.valueStart..<(field.valueStart + field.valueLength) {
            let digit = Int(bytes[i]) - 48
            guard digit >= 0 && digit <= 9 else { throw .invalidContentLength }
            value = value * 10 + digit
        }
        return value
    }

    /// True when a Transfer-Encoding value is exactly `chunked` (case-insensitive): the only coding
    /// Argus accepts, since it can not know another coding's framing.
    static func isChunkedOnly(_ bytes: UnsafeRawBufferPointer, _ field: HeaderField) -> Bool {
        ASCII.equalsLowercased(bytes, field.valueStart, field.valueLength, "chunked")
    }

    /// Calls `body` with each comma-separated token of a list value, trimmed.
    static func forEachToken(_ bytes: UnsafeRawBufferPointer, _ field: HeaderField, _ body: (Int, Int) -> Void) {
        var i = field.valueStart
        let end = field.valueStart + field.valueLength
        while i < end {
            while i < end && (bytes[i] == ASCII.space || bytes[i] == ASCII.tab || bytes[i] == UInt8(ascii: ",")) { i += 1 }
            let tokenStart = i
            while i < end && bytes[i] != UInt8(ascii: ",") { i += 1 }
            var tokenEnd = i
            while tokenEnd > tokenStart && (bytes[tokenEnd - 1] == ASCII.space || bytes[tokenEnd - 1] == ASCII.tab) { tokenEnd -= 1 }
            if tokenEnd > tokenStart { body(tokenStart, tokenEnd - tokenStart) }
        }
    }
}
