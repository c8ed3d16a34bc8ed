import ArgusConfig
import ArgusHTTP
import ArgusPluginKit
import Glibc

/// Kong's request-termination, compiled for a snapshot (`kong/plugins/request-termination/handler.lua`):
/// the answer it gives, and whether a request calls for it (`trigger` as a header or a query
/// argument, when set).
public final class RequestTerminationPlan: Sendable {
    public let status: Int
    /// `{"message": …}` (the configured message, or Kong's default for the status), or nil for no body.
    public let message: String?
    /// A raw body with its content type (`body`, `content_type`).
    public let body: String?
    public let contentType: String?
    public let echo: Bool
    let trigger: String?

    /// Kong's default messages by status.
    static let defaults = [
        401: "Unauthorized", 404: "Not found", 405: "Method not allowed", 500: "An unexpected error occurred",
        502: "Bad Gateway", 503: "Service unavailable",
    ]

    public init(config: JSONValue) {
        status = config["status_code"]?.intValue ?? 503
        message = config["message"]?.stringValue ?? Self.defaults[status]
        body = config["body"]?.stringValue
        contentType = config["content_type"]?.stringValue
        echo = config["echo"]?.boolValue ?? false
        trigger = config["trigger"]?.stringValue?.lowercased()
    }

    /// Whether this request is terminated: always, or when it carries the trigger.
    public func applies(to head: RequestHead) -> Bool {
        guard let trigger else { return true }
        if !head.values(forLowercasedName: trigger).isEmpty { return true }
        return !QueryString(head.string(head.query)[...]).values(named: trigger).isEmpty
    }

    /// `echo`: the request as Kong's plugin shows it (scheme, host, port, headers, query, method,
    /// path, the matched route and service).
    public func echoBody(
        _ head: RequestHead, scheme: String, port: Int, captures: [String: String], route: JSONValue, service: JSONValue
    ) -> String {
        var headers: [String: JSONValue] = [:]
        for field in head.fields {
            let name = head.string(field.nameStart..<(field.nameStart + field.nameLength)).lowercased()
            let value = JSONValue.string(head.string(field.valueStart..<(field.valueStart + field.valueLength)))
            if case .array(var list)? = headers[name] {
                list.append(value)
                headers[name] = .array(list)
            } else if let first = headers[name] {
                headers[name] = .array([first, value])
            } else {
                headers[name] = value
            }
        }
        // Kong's get_query: a name alone is `true`, a repeated name an array
        var query: [String: JSONValue] = [:]
        let raw = head.string(head.query)
        for pair in (raw.hasPrefix("?") ? raw.dropFirst() : raw[...]).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = QueryString.decode(parts[0])
            let value: JSONValue = parts.count == 2 ? .string(QueryString.decode(parts[1])) : .bool(true)
            if case .array(var list)? = query[name] {
                list.append(value)
                query[name] = .array(list)
            } else if let first = query[name] {
                query[name] = .array([first, value])
            } else {
                query[name] = value
            }
        }
        let request: JSONValue = .object([
            "scheme": .string(scheme), "host": .string(head.hostString), "port": .int(port), "headers": .object(headers),
            "query": .object(query), "method": .string(head.methodString), "path": .string(head.string(head.path)),
            "uri_captures": .object(["named": .object(captures.filter { Int($0.key) == nil }.mapValues(JSONValue.string)),
                                     "unnamed": .array(captures.keys.compactMap(Int.init).sorted().map { .string(captures[String($0)] ?? "") })]),
            "body": .null, "raw_body": .null,
        ])
        let content: JSONValue = .object([
            "message": message.map(JSONValue.string) ?? .null,
            "kong": .object(["worker_pid": .int(Int(getpid()))]),
            "request": request, "matched_route": route, "matched_service": service,
        ])
        return JSONText.encode(content)
    }
}
