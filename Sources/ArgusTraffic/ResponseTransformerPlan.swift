import ArgusPluginKit
import ArgusConfig
import ArgusHTTP
import NIOCore

/// Kong's response-transformer: remove → rename → replace → add → append, on the upstream's
/// response headers (passed through as bytes unless an operation names them) and on the fields
/// of a JSON response body (read whole, then written with its new length).
public final class ResponseTransformerPlan: Sendable {
    let operations: HeaderOperations
    /// Lower-cased names of every header an operation touches (framing headers excepted: Argus writes those).
    public let touched: [String]
    let json: JSONOperations
    /// JSON body operations are configured.
    public var touchesJSON: Bool { !json.isEmpty }

    public init(config: JSONValue) {
        operations = HeaderOperations(config: config, field: "headers")
        touched = operations.touched.subtracting(["content-length", "transfer-encoding", "connection"]).sorted()
        json = JSONOperations(config: config)
    }

    /// The header lines that replace the touched headers of `head` (`Name: value\r\n`).
    public func lines(for head: ResponseHead) -> String {
        var headers: [(name: String, value: String)] = []
        for name in touched {
            for value in head.values(forLowercasedName: name) { headers.append((name, value)) }
        }
        operations.apply(to: &headers, render: { $0 })
        return headers.filter { touched.contains($0.name.lowercased()) }.map { "\($0.name): \($0.value)\r\n" }.joined()
    }

    /// Whether this response's body is to be read whole: JSON operations and a JSON Content-Type.
    public func wantsBody(_ head: ResponseHead) -> Bool {
        touchesJSON && head.values(forLowercasedName: "content-type").first?.lowercased().contains("application/json") == true
    }

    /// The JSON operations on a whole body: nil when it is not a JSON object (sent as it came).
    public func transformJSON(_ body: ByteBuffer) -> [UInt8]? {
        guard let text = String(validating: body.readableBytesView, as: UTF8.self),
              case .object(var fields)? = try? ConfigLoader.parseValue(text: text)
        else { return nil }
        json.apply(&fields)
        return Array(JSONText.encode(.object(fields)).utf8)
    }
}

/// response-transformer's `json` lists and their `json_types` (Kong's body_transformer): values
/// are strings unless the type at the same position says `boolean` or `number`; `append` makes
/// an array (a missing field becomes a one-element array, as in Kong).
struct JSONOperations: Sendable {
    typealias Typed = (name: String, value: JSONValue)

    let remove: [String]
    let rename: [(old: String, new: String)]
    let replace: [Typed], add: [Typed], append: [Typed]

    var isEmpty: Bool { remove.isEmpty && rename.isEmpty && replace.isEmpty && add.isEmpty && append.isEmpty }

    init(config: JSONValue) {
        func list(_ section: String, _ field: String) -> [String] { config[section]?[field]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        func split(_ entry: String) -> (String, String)? {
            guard let colon = entry.firstIndex(of: ":") else { return nil }
            return (String(entry[..<colon]), String(entry[entry.index(after: colon)...]))
        }
        func typed(_ section: String) -> [Typed] {
            let types = list(section, "json_types")
            return list(section, "json").enumerated().compactMap { i, entry in
                split(entry).map { (name: $0.0, value: Self.value($0.1, type: i < types.count ? types[i] : nil)) }
            }
        }
        remove = list("remove", "json")
        rename = list("rename", "json").compactMap(split).map { (old: $0.0, new: $0.1) }
        replace = typed("replace")
        add = typed("add")
        append = typed("append")
    }

    static func value(_ text: String, type: String?) -> JSONValue {
        switch type {
        case "boolean": return .bool(text == "true")
        case "number": return Int(text).map(JSONValue.int) ?? Double(text).map(JSONValue.double) ?? .string(text)
        case "string": return .string(text)
        default:
            if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { return .string(String(text.dropFirst().dropLast())) }
            return .string(text)
        }
    }

    func apply(_ fields: inout [String: JSONValue]) {
        for name in remove { fields[name] = nil }
        for (old, new) in rename { if let value = fields.removeValue(forKey: old) { fields[new] = value } }
        for (name, value) in replace where fields[name] != nil { fields[name] = value }
        for (name, value) in add where fields[name] == nil { fields[name] = value }
        for (name, value) in append {
            switch fields[name] {
            case .array(let items)?: fields[name] = .array(items + [value])
            case let existing?: fields[name] = .array([existing, value])
            case nil: fields[name] = .array([value])
            }
        }
    }
}
