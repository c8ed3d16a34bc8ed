import ArgusConfig
import ArgusHTTP

/// Kong's request-transformer for headers, the query string, the URI and the method (kong-compat
/// §5.8): remove → rename → replace → add → append, values with `$(headers.x)`,
/// `$(query_params.y)` and `$(uri_captures.n)` templates. Headers no operation names are passed
/// through as bytes; the ones it names are dropped from the client's and written again.
public final class RequestTransformerPlan: Sendable {
    typealias Pair = (name: String, value: String)

    let method: String?
    let headerOperations: HeaderOperations
    let removeQuery: [String]
    let renameQuery: [Pair], replaceQuery: [Pair], addQuery: [Pair], appendQuery: [Pair]
    let replaceURI: String?
    let touchesQuery: Bool

    public init(config: JSONValue) {
        func list(_ section: String, _ field: String) -> [String] {
            config[section]?[field]?.arrayValue?.compactMap(\.stringValue) ?? []
        }
        func pairs(_ section: String, _ field: String) -> [Pair] {
            list(section, field).compactMap { entry in
                guard let colon = entry.firstIndex(of: ":") else { return nil }
                return (String(entry[..<colon]), String(entry[entry.index(after: colon)...]))
            }
        }
        method = config["http_method"]?.stringValue
        headerOperations = HeaderOperations(config: config, field: "headers")
        removeQuery = list("remove", "querystring")
        renameQuery = pairs("rename", "querystring")
        replaceQuery = pairs("replace", "querystring")
        replaceURI = config["replace"]?["uri"]?.stringValue
        addQuery = pairs("add", "querystring")
        appendQuery = pairs("append", "querystring")
        touchesQuery = !(removeQuery.isEmpty && renameQuery.isEmpty && replaceQuery.isEmpty && addQuery.isEmpty && appendQuery.isEmpty)
    }

    /// What the upstream request becomes.
    public struct Rewrite: Sendable {
        public var method: String?
        /// The upstream path instead of the routed one.
        public var uri: String?
        /// `Host` for the upstream (a `replace`, `add` or `rename` of Host).
        public var host: String?
        /// Lower-cased names of client headers to drop.
        public var removeHeaders: [String] = []
        /// `Name: value\r\n` lines to add.
        public var headerLines = ""
        /// The query string instead of the client's (without `?`; empty: none).
        public var query: String?
    }

    public func rewrite(_ head: RequestHead, captures: [String: String]) -> Rewrite {
        // The headers the operations touch, as (display name, value), in order.
        let touched = headerOperations.touched
        var headers: [(name: String, value: String)] = []
        for name in touched {
            for value in head.values(forLowercasedName: name) { headers.append((name, value)) }
        }
        let query = QueryString(head.string(head.query)[...])
        func render(_ template: String) -> String { Self.render(template, head: head, query: query, captures: captures) }
        headerOperations.apply(to: &headers, render: render, alwaysReplaceable: "host")

        var out = Rewrite()
        out.method = method
        out.uri = replaceURI.map(render)
        out.removeHeaders = Array(touched) + ["host"]
        for (name, value) in headers {
            if name.lowercased() == "host" { out.host = value } else { out.headerLines += "\(name): \(value)\r\n" }
        }
        if out.host == nil { out.removeHeaders.removeLast() }

        if touchesQuery {
            var args: [(name: String, value: String)] = query.raw.split(separator: "&").map { pair in
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (QueryString.decode(kv[0]), kv.count == 2 ? QueryString.decode(kv[1]) : "")
            }
            func hasArg(_ name: String) -> Bool { args.contains { $0.name == name } }
            for name in removeQuery { args.removeAll { $0.name == name } }
            for (old, new) in renameQuery where hasArg(old) {
                args = args.map { $0.name == old ? (new, $0.value) : $0 }
            }
            for (name, value) in replaceQuery where hasArg(name) {
                let rendered = render(value)
                args = args.map { $0.name == name ? (name, rendered) : $0 }
            }
            for (name, value) in addQuery where !hasArg(name) { args.append((name, render(value))) }
            for (name, value) in appendQuery { args.append((name, render(value))) }
            out.query = args.map { Self.encode($0.name) + "=" + Self.encode($0.value) }.joined(separator: "&")
        }
        return out
    }

    /// `$(headers.x)`, `$(headers["x-y"])`, `$(query_params.y)`, `$(uri_captures.n)` replaced by
    /// the request's values (empty when absent).
    static func render(_ template: String, head: RequestHead, query: QueryString, captures: [String: String]) -> String {
        guard template.contains("$(") else { return template }
        var out = ""
        var rest = template[...]
        while let dollar = rest.firstIndex(of: "$") {
            let open = rest.index(after: dollar)
            guard open < rest.endIndex, rest[open] == "(" else {
                out += rest[...dollar]
                rest = rest[open...]
                continue
            }
            out += rest[..<dollar]
            let inside = rest.index(after: open)
            guard let end = rest[inside...].firstIndex(of: ")") else {
                out += rest[dollar...]
                return out
            }
            let expression = String(rest[inside..<end]).trimming(" ")
            out += value(of: expression, head: head, query: query, captures: captures)
            rest = rest[rest.index(after: end)...]
        }
        return out + rest
    }

    static func value(of expression: String, head: RequestHead, query: QueryString, captures: [String: String]) -> String {
        for (prefix, source) in [("headers", 0), ("query_params", 1), ("uri_captures", 2)] where expression.hasPrefix(prefix) {
            var key = String(expression.dropFirst(prefix.count))
            if key.hasPrefix(".") {
                key.removeFirst()
            } else if key.hasPrefix("["), key.hasSuffix("]") {
                key = String(key.dropFirst().dropLast()).trimming("\"").trimming("'")
            } else {
                continue
            }
            switch source {
            case 0: return head.values(forLowercasedName: key.lowercased().replacingUnderscores()).first ?? ""
            case 1: return query.values(named: key).first ?? ""
            default: return captures[key] ?? ""
            }
        }
        return ""
    }

    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

extension String {
    /// Kong's `headers.x_y` means the header `x-y`.
    func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }

    /// Without `character` at either end.
    public func trimming(_ character: Character) -> String {
        var s = Substring(self)
        while s.first == character { s = s.dropFirst() }
        while s.last == character { s = s.dropLast() }
        return String(s)
    }
}
