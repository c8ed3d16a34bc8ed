import ArgusConfig

/// Builds compact JSON as bytes: objects, arrays, escaped strings (invalid UTF-8 in request bytes
/// becomes U+FFFD, control characters are escaped), integers without `String`.
struct JSONWriter: ~Copyable {
    private var out: ByteSink
    private var needsComma = false

    init(capacity: Int = 1024) {
        out = ByteSink(capacity: capacity)
    }

    /// What was written.
    var bytes: [UInt8] { out.array }

    /// What was written, valid until the next write.
    var written: UnsafeRawBufferPointer { out.written }

    /// Starts over (for the next record), keeping the memory.
    mutating func reset() {
        out.removeAll()
        needsComma = false
    }

    private mutating func separate() {
        if needsComma { out.append(UInt8(ascii: ",")) }
        needsComma = false
    }

    mutating func openObject() { separate(); out.append(UInt8(ascii: "{")) }
    mutating func closeObject() { out.append(UInt8(ascii: "}")); needsComma = true }
    mutating func openArray() { separate(); out.append(UInt8(ascii: "[")) }
    mutating func closeArray() { out.append(UInt8(ascii: "]")); needsComma = true }

    /// `"key":` (the value follows).
    mutating func key(text key: String) {
        separate()
        var key = key
        key.withUTF8 { quoted(UnsafeRawBufferPointer($0)) }
        out.append(UInt8(ascii: ":"))
    }

    /// `"key":` for a literal key (plain ASCII, nothing to escape), without allocating.
    mutating func key(_ key: StaticString) {
        separate()
        out.append(UInt8(ascii: "\""))
        out.append(key)
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    /// A key written in pieces: ``openKey()``, ``stringPiece(_:)``…, ``closeKey()`` (the value follows).
    mutating func openKey() {
        separate()
        out.append(UInt8(ascii: "\""))
    }

    mutating func closeKey() {
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    /// `"key":` for a header or query name given as bytes.
    mutating func key(bytes name: UnsafeRawBufferPointer) {
        separate()
        quoted(name)
        out.append(UInt8(ascii: ":"))
    }

    /// `"key":` for a header name, lower-cased (ASCII) as it is written.
    mutating func key(lowercasing name: UnsafeRawBufferPointer) {
        separate()
        out.append(UInt8(ascii: "\""))
        let start = out.count
        // A valid name is ASCII with nothing to escape: lower-cased as it is copied, 8 bytes at a time.
        if !Self.anyNeedsEscape(name) {
            out.appendLowercasingASCII(name)
        } else {
            appendEscaped(name)
            for i in start..<out.count where out[i] >= 65 && out[i] <= 90 { out[i] += 32 }
        }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    mutating func string(text value: String) {
        separate()
        var value = value
        value.withUTF8 { quoted(UnsafeRawBufferPointer($0)) }
        needsComma = true
    }

    mutating func string(bytes value: UnsafeRawBufferPointer) {
        separate()
        quoted(value)
        needsComma = true
    }

    mutating func string(bytes value: [UInt8]) {
        value.withUnsafeBytes { string(bytes: $0) }
    }

    /// A string value written in pieces: ``openString()``, ``stringPiece(_:)``…, ``closeString()``.
    mutating func openString() {
        separate()
        out.append(UInt8(ascii: "\""))
    }

    mutating func stringPiece(_ piece: UnsafeRawBufferPointer) { appendEscaped(piece) }

    mutating func stringPiece(_ piece: StaticString) { out.append(piece) }

    /// URL-encoded bytes (`%XX`, `+` for a space) decoded, then escaped as string content.
    mutating func stringPiece(percentDecoding raw: UnsafeRawBufferPointer) {
        if !raw.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) {
            appendEscaped(raw)
            return
        }
        // Decoded whole before escaping, so that an encoded multi-byte character is checked as one.
        withUnsafeTemporaryAllocation(byteCount: raw.count, alignment: 1) { buffer in
            let n = Self.percentDecode(raw, into: buffer)
            appendEscaped(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
    }

    /// Decodes `raw` into `out` (at least `raw.count` bytes); returns the decoded length.
    static func percentDecode(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        var i = 0, n = 0
        while i < raw.count {
            let b = raw[i]
            if b == UInt8(ascii: "%"), i + 2 < raw.count, let h = hexValue(raw[i + 1]), let l = hexValue(raw[i + 2]) {
                out[n] = h << 4 | l
                i += 3
            } else {
                out[n] = b == UInt8(ascii: "+") ? UInt8(ascii: " ") : b
                i += 1
            }
            n += 1
        }
        return n
    }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 48...57: return b - 48
        case 65...70: return b - 55
        case 97...102: return b - 87
        default: return nil
        }
    }

    /// Decimal digits of a non-negative number inside a string.
    mutating func stringPiece(digits value: Int) { digits(value.magnitude) }

    mutating func closeString() {
        out.append(UInt8(ascii: "\""))
        needsComma = true
    }

    mutating func string(_ value: StaticString) {
        separate()
        out.append(UInt8(ascii: "\""))
        out.append(value)
        out.append(UInt8(ascii: "\""))
        needsComma = true
    }
    mutating func integer(_ value: Int) {
        separate()
        if value < 0 { out.append(UInt8(ascii: "-")) }
        digits(value.magnitude)
        needsComma = true
    }

    private mutating func digits(_ value: UInt) {
        var n = value
        if n == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while n > 0 {
                raw[23 - count] = UInt8(ascii: "0") &+ UInt8(n % 10)
                n /= 10
                count += 1
            }
            out.append(UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }

    /// A string value made of 16 lower-case hex digits of a word (a span id).
    mutating func hex64(_ value: UInt64) {
        separate()
        out.append(UInt8(ascii: "\""))
        for i in 0..<16 { out.append(Self.hex[Int((value >> UInt64(60 - 4 * i)) & 0xF)]) }
        out.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// A string value made of 32 lower-case hex digits of two words (a request id).
    mutating func hex128(_ high: UInt64, _ low: UInt64) {
        separate()
        out.append(UInt8(ascii: "\""))
        for i in 0..<16 { out.append(Self.hex[Int((high >> UInt64(60 - 4 * i)) & 0xF)]) }
        for i in 0..<16 { out.append(Self.hex[Int((low >> UInt64(60 - 4 * i)) & 0xF)]) }
        out.append(UInt8(ascii: "\""))
        needsComma = true
    }
    mutating func bool(_ value: Bool) { separate(); out.append(value ? "true" : "false"); needsComma = true }
    mutating func null() { separate(); out.append("null"); needsComma = true }

    /// A value of the config's JSON model.
    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .int(let i): integer(i)
        case .double: separate(); var text = JSONText.encode(value); text.withUTF8 { out.append(UnsafeRawBufferPointer($0)) }; needsComma = true
        case .string(let s): string(text: s)
        case .array(let items):
            openArray()
            for item in items { self.value(item) }
            closeArray()
        case .object(let fields):
            openObject()
            for k in fields.keys.sorted() {
                key(text: k)
                self.value(fields[k] ?? .null)
            }
            closeObject()
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)


    /// Pre-rendered JSON (e.g. an entity rendered once per config version) as a value.
    mutating func raw(_ json: [UInt8]) {
        separate()
        json.withUnsafeBytes { out.append($0) }
        needsComma = true
    }

    /// Pre-rendered members of an object (`"a":1,"b":"x"`), after a comma when one is due;
    /// nothing for an empty fragment.
    mutating func members(_ json: [UInt8]) {
        guard !json.isEmpty else { return }
        raw(json)
    }

    /// `"…"` around the escaped bytes.
    private mutating func quoted(_ raw: UnsafeRawBufferPointer) {
        out.append(UInt8(ascii: "\""))
        appendEscaped(raw)
        out.append(UInt8(ascii: "\""))
    }

    /// The bytes as JSON string content. Fast path: runs of printable ASCII other than `"` and `\`
    /// are copied whole; a `"` or `\` is escaped in place; any other byte (controls, UTF-8) sends the
    /// rest through the careful path.
    private mutating func appendEscaped(_ raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress else { return }
        var runStart = 0
        var i = 0
        let n = raw.count
        while i < n {
            // Eight bytes at a time while none of them needs attention.
            while i + 8 <= n && !Self.needsEscape(base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { i += 8 }
            let end = min(i + 8, n)
            var found = false
            while i < end {
                let byte = raw[i]
                if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    i += 1
                    continue
                }
                found = true
                break
            }
            guard found else { continue }
            let byte = raw[i]
            if i > runStart { out.append(UnsafeRawBufferPointer(rebasing: raw[runStart..<i])) }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
                i += 1
                runStart = i
                continue
            }
            escapeSlowly(UnsafeRawBufferPointer(rebasing: raw[i...]))
            return
        }
        if n > runStart { out.append(UnsafeRawBufferPointer(rebasing: raw[runStart..<n])) }
    }

    /// Whether any byte of `raw` is a control, DEL, non-ASCII, `"` or `\\`.
    private static func anyNeedsEscape(_ raw: UnsafeRawBufferPointer) -> Bool {
        guard let base = raw.baseAddress else { return false }
        var i = 0
        while i + 8 <= raw.count {
            if needsEscape(base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { return true }
            i += 8
        }
        while i < raw.count {
            let b = raw[i]
            if b < 0x20 || b >= 0x7F || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { return true }
            i += 1
        }
        return false
    }

    /// Whether any of eight bytes is a control, DEL, non-ASCII, `"` or `\` (may also say yes for a
    /// byte after such a one, never no when there is one: the caller then looks byte by byte).
    @inline(__always)
    private static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZero(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
        let below20 = (word &- ones &* 0x20) & ~word & highs
        let nonASCII = word & highs
        return (below20 | nonASCII | hasZero(word ^ (ones &* 0x22)) | hasZero(word ^ (ones &* 0x5C)) | hasZero(word ^ (ones &* 0x7F))) != 0
    }

    /// Decodes as UTF-8 with replacement (a log line is always valid JSON) and escapes controls.
    private mutating func escapeSlowly(_ raw: UnsafeRawBufferPointer) {
        for scalar in String(decoding: raw, as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out.append("\\u00")
                    out.append(Self.hex[Int(scalar.value >> 4)])
                    out.append(Self.hex[Int(scalar.value & 0xF)])
                } else {
                    var utf8: (UInt32, UInt32) = (0, 0)
                    var count = 0
                    withUnsafeMutableBytes(of: &utf8) { buffer in
                        for unit in UTF8.encode(scalar)! {
                            buffer[count] = unit
                            count += 1
                        }
                        out.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                    }
                }
            }
        }
    }
}
