/// Kong's `tcp-log` and `udp-log` plugins: Kong's log record, one per request, to a TCP
/// receiver (newline-terminated JSON, over TLS when asked, on kept-alive connections) or as one
/// UDP datagram each. `custom_fields_by_lua` is refused (Argus runs no Lua), as for file-log.
public enum SocketLogPluginSchemas {
    static func required(_ spec: FieldSpec) -> FieldSpec {
        var spec = spec
        spec.required = true
        return spec
    }

    public static let tcpLog = PluginSchema(
        name: "tcp-log", priority: 7, acceptsStreamProtocols: true, recordsRequestDetail: true,
        config: [
            SchemaField("host", required(Typedefs.host)),
            SchemaField("port", required(Typedefs.port)),
            SchemaField("timeout", .number(default: 10000)),
            SchemaField("keepalive", .number(default: 60000)),
            SchemaField("tls", .boolean(required: true, default: false)),
            SchemaField("tls_sni", .string()),
            SchemaField("custom_fields_by_lua", FileLogPluginSchema.schema.configSpec.flatMap(luaField) ?? FieldSpec(.any)),
        ])

    public static let udpLog = PluginSchema(
        name: "udp-log", priority: 8, acceptsStreamProtocols: true, recordsRequestDetail: true,
        config: [
            SchemaField("host", required(Typedefs.host)),
            SchemaField("port", required(Typedefs.port)),
            SchemaField("timeout", .number(default: 10000)),
            SchemaField("custom_fields_by_lua", FileLogPluginSchema.schema.configSpec.flatMap(luaField) ?? FieldSpec(.any)),
        ])

    /// file-log's `custom_fields_by_lua` field (refused unless empty).
    static func luaField(_ spec: FieldSpec) -> FieldSpec? {
        guard case .record(let fields, _) = spec.kind else { return nil }
        return fields.first { $0.name == "custom_fields_by_lua" }?.spec
    }
}
