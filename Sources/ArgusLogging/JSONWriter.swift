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
    mutating func key(_ key: String) {
        separate()
        string(Array(key.utf8), asValue: false)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ value: String) { separate(); string(Array(value.utf8), asValue: true) }
    mutating func string<C: Collection>(bytes value: C) where C.Element == UInt8 { separate(); string(Array(value), asValue: true) }
    mutating func integer(_ value: Int) { separate(); bytes.append(contentsOf: String(value).utf8); needsComma = true }
    mutating func bool(_ value: Bool) { separate(); bytes.append(contentsOf: (value ? "true" : "false").utf8); needsComma = true }
    mutating func null() { separate(); bytes.append(contentsOf: "null".utf8); needsComma = true }

    /// A value of the config's JSON model.
    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .int(let i): integer(i)
        case .double: separate(); bytes.append(contentsOf: JSONText.encode(value).utf8); needsComma = true
        case .string(let s): string(s)
        case .array(let items):
            openArray()
            for item in items { self.value(item) }
            closeArray()
        case .object(let fields):
            openObject()
            for k in fields.keys.sorted() {
                key(k)
                self.value(fields[k] ?? .null)
            }
            closeObject()
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func string(_ raw: [UInt8], asValue: Bool) {
        bytes.append(UInt8(ascii: "\""))
        // Decode as UTF-8 with replacement, so a log line is always valid JSON.
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
        bytes.append(UInt8(ascii: "\""))
        if asValue { needsComma = true }
    }
}
