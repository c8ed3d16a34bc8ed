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
        touchesJSON && Self.isJSON(head.values(forLowercasedName: "content-type").first)
    }

    /// Kong's `is_json_body`: one of the comma-separated media types is `application/json` or
    /// `application/…+json` (`application/problem+json; charset=utf-8`, `application/vnd.api+json`),
    /// and it parses (`type/subtype` then `; name=value` parameters: a trailing `;` does not).
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        for piece in contentType.split(separator: ",") {
            let parts = piece.split(separator: ";", omittingEmptySubsequences: false)
            let names = parts[0].split(separator: "/", omittingEmptySubsequences: false)
            guard names.count == 2 else { continue }
            let type = names[0].trimmingBlanks().lowercased(), subtype = names[1].trimmingBlanks().lowercased()
            let parametersParse = parts.dropFirst().allSatisfy { parameter in
                let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return pair.count == 2 && !pair[0].trimmingBlanks().isEmpty && !pair[1].trimmingBlanks().isEmpty
            }
            if parametersParse, type == "application", subtype == "json" || subtype.hasSuffix("+json") {
                return true
            }
        }
        return false
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
                guard let (name, text) = split(entry), let value = Self.value(text, type: i < types.count ? types[i] : nil) else { return nil }
                return (name: name, value: value)
            }
        }
        remove = list("remove", "json")
        rename = list("rename", "json").compactMap(split).map { (old: $0.0, new: $0.1) }
        replace = typed("replace")
        add = typed("add")
        append = typed("append")
    }

    /// A configured value as Kong's `json_value` casts it: the text as it is (quotes included),
    /// `true` alone is true for `boolean`, and a `number` that is not one is no value (the entry
    /// is skipped).
    static func value(_ text: String, type: String?) -> JSONValue? {
        switch type {
        case "boolean": return .bool(text == "true")
        case "number":
            let trimmed = text.trimmingBlanks()
            return Int(trimmed).map(JSONValue.int) ?? Double(trimmed).map(JSONValue.double)
        default: return .string(text)
        }
    }

    func apply(_ fields: inout [String: JSONValue]) {
        for name in remove { fields[name] = nil }
        for (old, new) in rename { if let value = fields.removeValue(forKey: old) { fields[new] = value } }
        // Lua's truthiness: replace a field that is there and not false, add one that is missing or false
        for (name, value) in replace where fields[name] != nil && fields[name] != .bool(false) { fields[name] = value }
        for (name, value) in add where fields[name] == nil || fields[name] == .bool(false) { fields[name] = value }
        for (name, value) in append {
            switch fields[name] {
            case .array(let items)?: fields[name] = .array(items + [value])
            case let existing?: fields[name] = .array([existing, value])
            case nil: fields[name] = .array([value])
            }
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmingBlanks() -> String {
        var s = Substring(self)
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
