/// proxy-cache (kong-compat §5.7), Kong 3.9's config. One difference: `strategy` defaults to
/// `memory` (the only strategy of Kong OSS, and Argus's), where Kong requires it, so the common
/// `curl … --data name=proxy-cache --data config.cache_ttl=300` works as written.
public enum ProxyCachePluginSchema {
    public static let methods = ["HEAD", "GET", "POST", "PATCH", "PUT"]

    public static let schema = PluginSchema(
        name: "proxy-cache", priority: 100, acceptsStreamProtocols: true,
        config: [
            SchemaField("response_code", .array(
                of: .integer(between: 100...900), required: true, default: [200, 301, 404].map(JSONValue.int), lenMin: 1)),
            SchemaField("request_method", .array(
                of: .string(oneOf: methods), required: true, default: ["GET", "HEAD"].map(JSONValue.string))),
            SchemaField("content_type", .array(
                of: .string(validators: [Typedefs.string { MediaTypeRule.problem(in: $0) }]), required: true,
                default: ["text/plain", "application/json"].map(JSONValue.string))),
            SchemaField("cache_ttl", .integer(default: 300, greaterThan: 0)),
            SchemaField("strategy", .string(required: true, default: "memory", oneOf: ["memory"])),
            SchemaField("cache_control", .boolean(required: true, default: false)),
            SchemaField("ignore_uri_case", .boolean(default: false)),
            SchemaField("storage_ttl", .integer()),
            SchemaField("memory", .record([SchemaField("dictionary_name", .string(required: true, default: "kong_db_cache"))], required: true)),
            SchemaField("vary_query_params", .array(of: .string())),
            SchemaField("vary_headers", .array(of: .string())),
            SchemaField("response_headers", .record([
                SchemaField("age", .boolean(required: true, default: true)),
                SchemaField("X-Cache-Status", .boolean(required: true, default: true)),
                SchemaField("X-Cache-Key", .boolean(required: true, default: true)),
            ], required: true)),
        ])
}

/// A `type/subtype` media type with optional parameters, as proxy-cache's `content_type` takes it.
enum MediaTypeRule {
    static func problem(in text: String) -> String? {
        let main = text.split(separator: ";", maxSplits: 1).first.map { $0.trimmed() } ?? ""
        let parts = main.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return "invalid mime type: \(text)" }
        return nil
    }
}
