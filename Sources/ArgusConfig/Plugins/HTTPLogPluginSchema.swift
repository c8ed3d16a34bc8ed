import Foundation

/// Kong's `http-log` plugin (kong-compat §6.1) and its queue settings, plus Argus's own
/// `spool_max_bytes` (the disk budget that makes the sink lossless through an outage) and `gzip`
/// (compressed request bodies). `custom_fields_by_lua` is rejected: Argus runs no Lua.
public enum HTTPLogPluginSchema {
    private static let forbiddenHeaders = ["host": "Host", "content-length": "Content-Length", "content-type": "Content-Type"]

    static let headerKey = FieldSpec.string(validators: [
        Typedefs.string(NameRules.headerName),
        Typedefs.string { name in forbiddenHeaders[name.lowercased()].map { "cannot contain '\($0)' header" } },
    ])

    static let queue = FieldSpec.record([
        SchemaField("max_batch_size", .integer(required: true, default: 1, between: 1...1_000_000)),
        SchemaField("max_coalescing_delay", .number(required: true, default: 1, between: 0...3600)),
        SchemaField("max_entries", .integer(required: true, default: 10_000, between: 1...1_000_000)),
        SchemaField("max_bytes", .integer(greaterThan: 0)),
        SchemaField("max_retry_time", .number(required: true, default: 60)),
        SchemaField("initial_retry_delay", .number(required: true, default: 0.01, between: 0.001...1_000_000)),
        SchemaField("max_retry_delay", .number(required: true, default: 60, between: 0.001...1_000_000)),
        SchemaField("concurrency_limit", .integer(required: true, default: 1, oneOf: [-1, 1])),
    ])

    public static let schema = PluginSchema(
        name: "http-log", priority: 12, acceptsStreamProtocols: true, recordsRequestDetail: true,
        config: [
            SchemaField("http_endpoint", .string(required: true, validators: [Typedefs.string(validateEndpoint)])),
            SchemaField("method", .string(default: "POST", oneOf: ["POST", "PUT", "PATCH"])),
            SchemaField("content_type", .string(default: "application/json", oneOf: ["application/json", "application/json; charset=utf-8"])),
            SchemaField("timeout", .number(default: 10_000)),
            SchemaField("keepalive", .number(default: 60_000)),
            SchemaField("retry_count", .integer()),
            SchemaField("queue_size", .integer()),
            SchemaField("flush_timeout", .number()),
            SchemaField("headers", .map(keys: headerKey, values: .string())),
            SchemaField("queue", queue),
            SchemaField("custom_fields_by_lua", FieldSpec(.any, validators: [{ value in
                switch value {
                case .null: return nil
                case .object(let fields) where fields.isEmpty: return nil
                default: return "custom_fields_by_lua is not supported: Argus does not run Lua"
                }
            }])),
            SchemaField("spool_max_bytes", .integer(default: 256 << 20, greaterThan: 0)),
            SchemaField("gzip", .boolean(default: false)),
        ])

    static func validateEndpoint(_ text: String) -> String? {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased() else { return "invalid url" }
        guard scheme == "http" || scheme == "https" else { return "unsupported scheme '\(scheme)': expected http or https" }
        guard let host = url.host, !host.isEmpty else { return "missing host in url" }
        return nil
    }
}
