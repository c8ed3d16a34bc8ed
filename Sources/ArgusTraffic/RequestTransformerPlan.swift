import ArgusPluginKit
import ArgusConfig
import ArgusHTTP
import Foundation
import NIOCore

/// Kong's request-transformer for headers, the query string, the body (JSON, form and multipart),
/// the URI and the method (kong-compat §5.8): remove → rename → replace → add → append, values with `$(headers.x)`,
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
    let removeBody: [String]
    let renameBody: [Pair], replaceBody: [Pair], addBody: [Pair], appendBody: [Pair]
    /// Body operations are configured: the request body is read whole before the transformer runs.
    public let touchesBody: Bool
    /// Every configured value with a `$(…)` template, parsed once (the loader refused the others).
    let templates: [String: TransformerTemplate]

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
        removeBody = list("remove", "body")
        renameBody = pairs("rename", "body")
        replaceBody = pairs("replace", "body")
        addBody = pairs("add", "body")
        appendBody = pairs("append", "body")
        touchesBody = !(removeBody.isEmpty && renameBody.isEmpty && replaceBody.isEmpty && addBody.isEmpty && appendBody.isEmpty)
        var templates: [String: TransformerTemplate] = [:]
        let values = ["rename", "replace", "add", "append"].flatMap { section in
            ["headers", "querystring", "body"].flatMap { pairs(section, $0).map(\.1) }
        } + (replaceURI.map { [$0] } ?? [])
        for value in values where value.contains("$(") {
            if case .success(let parsed) = TransformerTemplate.parse(value) { templates[value] = parsed }
        }
        self.templates = templates
    }

    /// Whether this request's body must be read before `rewrite`: body operations and a JSON,
    /// form or multipart Content-Type (the client's, or one this plugin's header operations set,
    /// as Kong reads it after `transform_headers`); or a form body to copy into the query of a
    /// request made GET (``formArgumentsForMethod(_:)``).
    public func needsBody(_ head: RequestHead) -> Bool {
        (touchesBody && RequestBody.kind(contentType: contentType(head)) != nil) || movesFormToQuery(head)
    }

    /// The Content-Type the body operations see: the client's, after this plugin's header operations.
    func contentType(_ head: RequestHead) -> String? {
        guard headerOperations.touched.contains("content-type") else { return head.values(forLowercasedName: "content-type").first }
        var headers: [(name: String, value: String)] = []
        for name in headerOperations.touched {
            for value in head.values(forLowercasedName: name) { headers.append((name, value)) }
        }
        let query = QueryString(head.string(head.query)[...])
        headerOperations.apply(to: &headers, render: { Self.render(templates[$0], $0, head: head, query: query, captures: [:]) })
        return headers.first { $0.name.lowercased() == "content-type" }?.value
    }

    /// Kong's `transform_method`: a request made GET, HEAD or TRACE whose (client's) Content-Type is
    /// a form has its body's fields copied into the query (the body itself stays).
    func movesFormToQuery(_ head: RequestHead) -> Bool {
        guard let method, ["GET", "HEAD", "TRACE"].contains(method.uppercased()) else { return false }
        guard case .form? = RequestBody.kind(contentType: head.values(forLowercasedName: "content-type").first) else { return false }
        return true
    }

    /// The form fields `rewrite` copies into the query, from the body as the client sent it
    /// (Kong's `transform_method` runs before `transform_body`); nil when the method does not move them.
    public func formArgumentsForMethod(_ head: RequestHead, body: ByteBuffer?) -> [(name: String, value: String)]? {
        guard movesFormToQuery(head), let body, case .form(let pairs)? = RequestBody.parse(body, kind: .form) else { return nil }
        return pairs
    }

    /// The body operations (Kong's `transform_body`) on a buffered body: nil when nothing changed
    /// or the body does not parse as its Content-Type says (it then goes upstream as it came).
    /// JSON values are strings, as in Kong; `append` turns a value into an array. On an empty body
    /// only `add` and `append` do anything (Kong's `content_length > 0` guards): an empty POST
    /// keeps its `Content-Length: 0`; a GET made POST with `add` gets a body in the Content-Type
    /// the client or the header operations gave. Multipart bodies take no `append` (Kong has none).
    public func transformBody(_ body: ByteBuffer, head: RequestHead, captures: [String: String]) -> [UInt8]? {
        guard touchesBody, let kind = RequestBody.kind(contentType: contentType(head)) else { return nil }
        let parsed: RequestBody
        if case .multipart(let boundary) = kind, body.readableBytes == 0 {
            parsed = .multipart(boundary: boundary, parts: [])  // (no parts, not even a closing delimiter)
        } else if let body = RequestBody.parse(body, kind: kind) {
            parsed = body
        } else {
            return nil
        }
        let query = QueryString(head.string(head.query)[...])
        func render(_ template: String) -> String { Self.render(templates[template], template, head: head, query: query, captures: captures) }
        let hasContent = body.readableBytes > 0
        // what Kong's flags (removed, renamed, replaced, added, appended) would say
        var changed = hasContent && !(removeBody.isEmpty && renameBody.isEmpty && replaceBody.isEmpty)
        switch parsed {
        case .json(let value):
            guard case .object(var fields) = value else { return nil }
            if hasContent {
                for name in removeBody { fields[name] = nil }
                for (old, new) in renameBody { if let v = fields.removeValue(forKey: old) { fields[new] = v } }
                for (name, value) in replaceBody where fields[name] != nil { fields[name] = .string(render(value)) }
            }
            for (name, value) in addBody where fields[name] == nil {
                fields[name] = .string(render(value))
                changed = true
            }
            if !appendBody.isEmpty { changed = true }
            guard changed else { return nil }
            for (name, value) in appendBody {
                let item = JSONValue.string(render(value))
                switch fields[name] {
                case nil: fields[name] = item
                case .array(let items)?: fields[name] = .array(items + [item])
                case let existing?: fields[name] = .array([existing, item])
                }
            }
            return RequestBody.json(.object(fields)).serialized()
        case .form(var pairs):
            func has(_ name: String) -> Bool { pairs.contains { $0.name == name } }
            if hasContent {
                for name in removeBody { pairs.removeAll { $0.name == name } }
                for (old, new) in renameBody { pairs = pairs.map { $0.name == old ? (new, $0.value) : $0 } }
                for (name, value) in replaceBody where has(name) {
                    let rendered = render(value)
                    pairs = pairs.map { $0.name == name ? (name, rendered) : $0 }
                }
            }
            for (name, value) in addBody where !has(name) {
                pairs.append((name, render(value)))
                changed = true
            }
            for (name, value) in appendBody {
                pairs.append((name, render(value)))
                changed = true
            }
            guard changed else { return nil }
            return RequestBody.form(pairs).serialized()
        case .multipart(let boundary, var parts):
            func has(_ name: String) -> Bool { parts.contains { $0.name == name } }
            if !hasContent { parts = [] }
            for name in removeBody where hasContent { parts.removeAll { $0.name == name } }
            for (old, new) in renameBody {
                parts = parts.map { part in
                    guard part.name == old else { return part }
                    var renamed = part
                    renamed.name = new
                    renamed.headers = part.headers.replacingFirst("name=\"\(old)\"", with: "name=\"\(new)\"")
                    return renamed
                }
            }
            for (name, value) in replaceBody where hasContent && has(name) {
                let rendered = Array(render(value).utf8)
                parts = parts.map { part in
                    var replaced = part
                    if part.name == name { replaced.content = rendered }
                    return replaced
                }
            }
            for (name, value) in addBody where !has(name) {
                parts.append(.text(name, render(value)))
                changed = true
            }
            guard changed else { return nil }
            return RequestBody.multipart(boundary: boundary, parts: parts).serialized()
        }
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

    /// - Parameter formArguments: a form body's fields to copy into the query (``formArgumentsForMethod(_:body:)``).
    public func rewrite(_ head: RequestHead, captures: [String: String], formArguments: [(name: String, value: String)]? = nil) -> Rewrite {
        // The headers the operations touch, as (display name, value), in order.
        let touched = headerOperations.touched
        var headers: [(name: String, value: String)] = []
        for name in touched {
            for value in head.values(forLowercasedName: name) { headers.append((name, value)) }
        }
        let query = QueryString(head.string(head.query)[...])
        func render(_ template: String) -> String { Self.render(templates[template], template, head: head, query: query, captures: captures) }
        headerOperations.apply(to: &headers, render: render, alwaysReplaceable: "host")

        var out = Rewrite()
        out.method = method
        out.uri = replaceURI.map(render)
        out.removeHeaders = Array(touched) + ["host"]
        for (name, value) in headers {
            if name.lowercased() == "host" { out.host = value } else { out.headerLines += "\(name): \(value)\r\n" }
        }
        if out.host == nil { out.removeHeaders.removeLast() }

        if touchesQuery || formArguments != nil {
            var args: [(name: String, value: String)] = query.raw.split(separator: "&").map { pair in
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (QueryString.decode(kv[0]), kv.count == 2 ? QueryString.decode(kv[1]) : "")
            }
            // transform_method: the form's fields after the query's (a name in both: the query's value first)
            args += formArguments ?? []
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
            out.query = Self.orderedQuery(args)
        }
        return out
    }

    /// A query as Kong's `kong.service.request.set_query` writes it: each name's values together
    /// (in order), the names' parts sorted.
    static func orderedQuery(_ args: [(name: String, value: String)]) -> String {
        var names: [String] = []
        var values: [String: [String]] = [:]
        for (name, value) in args {
            if values[name] == nil { names.append(name) }
            values[name, default: []].append(value)
        }
        return names.map { name in values[name]!.map { encode(name) + "=" + encode($0) }.joined(separator: "&") }
            .sorted().joined(separator: "&")
    }

    /// The value with its `$(…)` templates rendered from the request (see `TransformerTemplate`;
    /// the loader refused the ones Argus can not evaluate): a missing value is empty, or the
    /// template's `or 'default'`.
    static func render(
        _ parsed: TransformerTemplate?, _ template: String, head: RequestHead, query: QueryString, captures: [String: String]
    ) -> String {
        guard let parsed else { return template }
        var out = ""
        for part in parsed.parts {
            switch part {
            case .text(let text):
                out += text
            case .value(let source, let fallback):
                let found: String?
                switch source {
                case .header(let name): found = head.values(forLowercasedName: name.lowercased().replacingUnderscores()).first
                case .query(let name): found = query.values(named: name).first
                case .capture(let key): found = captures[key]
                }
                out += found ?? fallback ?? ""
            }
        }
        return out
    }

    static func encode(_ text: String) -> String { PercentEncoding.encode(text) }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }

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
