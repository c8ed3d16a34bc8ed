/// Kong's `datadog` plugin (3.9's schema): DogStatsD lines for each request to the Datadog agent.
public enum DatadogPluginSchema {
    public static let metricNames = ["kong_latency", "latency", "request_count", "request_size", "response_size", "upstream_latency"]

    /// Kong's DEFAULT_METRICS: each tagged `app:kong`, the consumer by its custom_id.
    public static let defaultMetrics: [JSONValue] = [
        ("request_count", "counter", true), ("latency", "timer", false), ("request_size", "timer", false),
        ("response_size", "timer", false), ("upstream_latency", "timer", false), ("kong_latency", "timer", false),
    ].map { name, type, rated in
        var metric: [String: JSONValue] = [
            "name": .string(name), "stat_type": .string(type), "tags": .array([.string("app:kong")]),
            "consumer_identifier": .string("custom_id"),
        ]
        if rated { metric["sample_rate"] = .int(1) }
        return .object(metric)
    }

    static let tag: @Sendable (JSONValue) -> String? = { value in
        guard let text = value.stringValue else { return nil }
        return text.isEmpty || text.hasSuffix(":") ? "invalid value: \(text)" : nil
    }

    static let metric = FieldSpec.record(
        [
            SchemaField("name", .string(required: true, oneOf: metricNames)),
            SchemaField("stat_type", .string(required: true, oneOf: ["counter", "gauge", "histogram", "meter", "set", "timer", "distribution"])),
            SchemaField("tags", .array(of: .string(validators: [tag]))),
            SchemaField("sample_rate", .number(between: 0...1)),
            SchemaField("consumer_identifier", .string(oneOf: ["consumer_id", "custom_id", "username"])),
        ],
        checks: [.requires("sample_rate", when: "stat_type") { $0.stringValue == "counter" || $0.stringValue == "gauge" }])

    public static let schema = PluginSchema(
        name: "datadog", priority: 10, acceptsStreamProtocols: true,
        config: [
            SchemaField("host", .string(default: "localhost", validators: Typedefs.host.validators)),
            SchemaField("port", .integer(default: 8125, between: 0...65535)),
            SchemaField("prefix", .string(default: "kong")),
            SchemaField("service_name_tag", .string(default: "name")),
            SchemaField("status_tag", .string(default: "status")),
            SchemaField("consumer_tag", .string(default: "consumer")),
            SchemaField("retry_count", .integer()),
            SchemaField("queue_size", .integer()),
            SchemaField("flush_timeout", .number()),
            SchemaField("queue", FieldSpec(.any)),
            SchemaField("metrics", .array(of: metric, required: true, default: defaultMetrics)),
        ])
}

/// Kong's `loggly` plugin: Kong's record as a syslog frame over UDP to Loggly (`key` in the
/// structured data, `tags`), at the severity of the response's status class.
public enum LogglyPluginSchema {
    static var severity: FieldSpec { .string(default: "info", oneOf: SyslogPluginSchema.severities) }

    public static let schema = PluginSchema(
        name: "loggly", priority: 6, acceptsStreamProtocols: true, recordsRequestDetail: true,
        config: [
            SchemaField("host", .string(default: "logs-01.loggly.com", validators: Typedefs.host.validators)),
            SchemaField("port", .integer(default: 514, between: 0...65535)),
            SchemaField("key", .string(required: true)),
            SchemaField("tags", .set(of: .string(), default: [.string("kong")])),
            SchemaField("log_level", severity),
            SchemaField("successful_severity", severity),
            SchemaField("client_errors_severity", severity),
            SchemaField("server_errors_severity", severity),
            SchemaField("timeout", .number(default: 10000)),
            SchemaField("custom_fields_by_lua", FileLogPluginSchema.schema.configSpec.flatMap(SocketLogPluginSchemas.luaField) ?? FieldSpec(.any)),
        ])
}
