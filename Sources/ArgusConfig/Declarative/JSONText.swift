/// Compact JSON text of a value (keys sorted), as Kong's cjson shows a reference in messages.
public enum JSONText {
    public static func encode(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return KongMessage.format(d)
        case .string(let s): return quote(s)
        case .array(let items): return "[" + items.map(encode).joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { quote($0) + ":" + encode(fields[$0] ?? .null) }.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal (with its quotes) for `s`.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
