import ArgusConfig

/// Builds compact JSON as bytes: objects, arrays, escaped strings (invalid UTF-8 in request bytes
/// becomes U+FFFD, control characters are escaped), integers without `String`.
struct JSONWriter {
    var bytes: [UInt8] = []
    private var needsComma = false

    init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = false
    }

    mutating func openObject() { separate(); bytes.append(UInt8(ascii: "{")) }
    mutating func closeObject() { bytes.append(UInt8(ascii: "}")); needsComma = true }
    mutating func openArray() { separate(); bytes.append(UInt8(ascii: "[")) }
    mutating func closeArray() { bytes.append(UInt8(ascii: "]")); needsComma = true }

    /// `"key":` (the value follows).
    mutating func key(text key: String) {
        separate()
        string(Array(key.utf8), asValue: false)
        bytes.append(UInt8(ascii: ":"))
    }

    /// `"key":` for a literal key (plain ASCII, nothing to escape), without allocating.
    mutating func key(_ key: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// `"key":` for a header or query name given as bytes.
    mutating func key<C: Collection>(bytes name: C) where C.Element == UInt8 {
        separate()
        string(Array(name), asValue: false)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(text value: String) { separate(); string(Array(value.utf8), asValue: true) }
    mutating func string<C: Collection>(bytes value: C) where C.Element == UInt8 { separate(); string(Array(value), asValue: true) }
    mutating func string(_ value: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }
    mutating func integer(_ value: Int) {
        separate()
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var n = value.magnitude
        if n == 0 {
            bytes.append(UInt8(ascii: "0"))
        } else {
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
            var count = 0
            withUnsafeMutableBytes(of: &digits) { raw in
                while n > 0 {
                    raw[23 - count] = UInt8(ascii: "0") &+ UInt8(n % 10)
                    n /= 10
                    count += 1
                }
                bytes.append(contentsOf: raw[(24 - count)...])
            }
        }
        needsComma = true
    }

    /// A string value made of 32 lower-case hex digits of two words (a request id).
    mutating func hex128(_ high: UInt64, _ low: UInt64) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        for word in [high, low] {
            for i in 0..<16 { bytes.append(Self.hex[Int((word >> UInt64(60 - 4 * i)) & 0xF)]) }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }
    mutating func bool(_ value: Bool) { separate(); bytes.append(contentsOf: (value ? "true" : "false").utf8); needsComma = true }
    mutating func null() { separate(); bytes.append(contentsOf: "null".utf8); needsComma = true }

    /// A value of the config's JSON model.
    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .int(let i): integer(i)
        case .double: separate(); bytes.append(contentsOf: JSONText.encode(value).utf8); needsComma = true
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
        bytes.append(contentsOf: json)
        needsComma = true
    }

    private mutating func string(_ raw: [UInt8], asValue: Bool) {
        bytes.append(UInt8(ascii: "\""))
        // Fast path: printable ASCII is copied as it is, escaping only `"` and `\`.
        var ascii = true
        for byte in raw where byte >= 0x80 || byte < 0x20 || byte == 0x7F {
            ascii = false
            break
        }
        if ascii {
            for byte in raw {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
        } else {
            escapeSlowly(raw)
        }
        bytes.append(UInt8(ascii: "\""))
        if asValue { needsComma = true }
    }

    /// Decodes as UTF-8 with replacement (a log line is always valid JSON) and escapes controls.
    private mutating func escapeSlowly(_ raw: [UInt8]) {
        for scalar in String(decoding: raw, as: UTF8.self).unicodeScalars {
            switch scalar {
            case "\"": bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case "\\": bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case "\n": bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case "\r": bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case "\t": bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    bytes += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                              Self.hex[Int(scalar.value >> 4)], Self.hex[Int(scalar.value & 0xF)]]
                } else {
                    bytes.append(contentsOf: String(scalar).utf8)
                }
            }
        }
    }
}
