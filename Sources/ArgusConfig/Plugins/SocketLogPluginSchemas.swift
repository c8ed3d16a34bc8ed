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

/// Kong's `syslog` plugin: Kong's record to the system's syslog, at a severity chosen by the
/// response's status class (`successful_severity`, `client_errors_severity`,
/// `server_errors_severity`), sent only when that severity is at or above `log_level`.
public enum SyslogPluginSchema {
    public static let severities = ["debug", "info", "notice", "warning", "err", "crit", "alert", "emerg"]
    public static let facilities = [
        "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user", "uucp",
        "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ]

    static var severity: FieldSpec { .string(required: true, default: "info", oneOf: severities) }

    public static let schema = PluginSchema(
        name: "syslog", priority: 4, acceptsStreamProtocols: true, recordsRequestDetail: true,
        config: [
            SchemaField("log_level", severity),
            SchemaField("successful_severity", severity),
            SchemaField("client_errors_severity", severity),
            SchemaField("server_errors_severity", severity),
            SchemaField("custom_fields_by_lua", FileLogPluginSchema.schema.configSpec.flatMap(SocketLogPluginSchemas.luaField) ?? FieldSpec(.any)),
            SchemaField("facility", .string(required: true, default: "user", oneOf: facilities)),
        ])

    /// syslog's numeric severity (RFC 5424: emerg 0 … debug 7).
    public static func code(ofSeverity name: String) -> Int {
        ["emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7][name] ?? 6
    }

    /// syslog's numeric facility (RFC 5424).
    public static func code(ofFacility name: String) -> Int {
        [
            "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7, "uucp": 8, "cron": 9,
            "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21,
            "local6": 22, "local7": 23,
        ][name] ?? 1
    }
}
