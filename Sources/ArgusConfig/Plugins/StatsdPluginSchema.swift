/// Kong's `statsd` plugin (3.9's schema): metrics of each request to a StatsD server over UDP (or
/// TCP), with Kong's metric names, stat types, identifiers, tag styles and packet sizes.
public enum StatsdPluginSchema {
    public static let metricNames = [
        "kong_latency", "latency", "request_count", "request_per_user", "request_size", "response_size", "status_count",
        "status_count_per_user", "unique_users", "upstream_latency", "status_count_per_workspace",
        "status_count_per_user_per_route", "shdict_usage",
    ]
    public static let statTypes = ["counter", "gauge", "histogram", "meter", "set", "timer"]
    static let consumerIdentifiers = ["consumer_id", "custom_id", "username"]
    static let serviceIdentifiers = ["service_id", "service_name", "service_host", "service_name_or_host"]
    static let workspaceIdentifiers = ["workspace_id", "workspace_name"]

    /// Kong's DEFAULT_METRICS, in order.
    public static let defaultMetrics: [JSONValue] = [
        ("request_count", "counter", true), ("latency", "timer", false), ("request_size", "counter", true),
        ("status_count", "counter", true), ("response_size", "counter", true), ("unique_users", "set", false),
        ("request_per_user", "counter", true), ("upstream_latency", "timer", false), ("kong_latency", "timer", false),
        ("status_count_per_user", "counter", true), ("status_count_per_workspace", "counter", true),
        ("status_count_per_user_per_route", "counter", true), ("shdict_usage", "gauge", true),
    ].map { name, type, rated in
        var metric: [String: JSONValue] = ["name": .string(name), "stat_type": .string(type)]
        if rated { metric["sample_rate"] = .int(1) }
        return .object(metric)
    }

    static let metric = FieldSpec.record(
        [
            SchemaField("name", .string(required: true, oneOf: metricNames)),
            SchemaField("stat_type", .string(required: true, oneOf: statTypes)),
            SchemaField("sample_rate", .number(greaterThan: 0)),
            SchemaField("consumer_identifier", .string(oneOf: consumerIdentifiers)),
            SchemaField("service_identifier", .string(oneOf: serviceIdentifiers)),
            SchemaField("workspace_identifier", .string(oneOf: workspaceIdentifiers)),
        ],
        checks: [.requires("sample_rate", when: "stat_type") { $0.stringValue == "counter" || $0.stringValue == "gauge" }])

    static let statusRange: @Sendable (JSONValue) -> String? = { value in
        guard let text = value.stringValue else { return nil }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        let valid = parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCIIDigitCharacter) }
        return valid ? nil : "invalid value: \(text)"
    }

    public static let schema = PluginSchema(
        name: "statsd", priority: 11, acceptsStreamProtocols: true,
        config: [
            SchemaField("host", Typedefs.host.defaulting("localhost")),
            SchemaField("port", .integer(default: 8125, between: 0...65535)),
            SchemaField("prefix", .string(default: "kong")),
            SchemaField("metrics", .array(of: metric, default: defaultMetrics)),
            SchemaField("allow_status_codes", .array(of: .string(validators: [statusRange]))),
            SchemaField("udp_packet_size", .number(default: 0, between: 0...65507)),
            SchemaField("use_tcp", .boolean(default: false)),
            SchemaField("hostname_in_prefix", .boolean(default: false)),
            SchemaField("consumer_identifier_default", .string(required: true, default: "custom_id", oneOf: consumerIdentifiers)),
            SchemaField("service_identifier_default", .string(required: true, default: "service_name_or_host", oneOf: serviceIdentifiers)),
            SchemaField("workspace_identifier_default", .string(required: true, default: "workspace_id", oneOf: workspaceIdentifiers)),
            SchemaField("retry_count", .integer()),
            SchemaField("queue_size", .integer()),
            SchemaField("flush_timeout", .number()),
            SchemaField("tag_style", .string(oneOf: ["dogstatsd", "influxdb", "librato", "signalfx"])),
            SchemaField("queue", FieldSpec(.any)),
        ])
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}

extension FieldSpec {
    /// The same spec with a default value.
    fileprivate func defaulting(_ value: String) -> FieldSpec {
        var spec = self
        spec.defaultValue = .string(value)
        return spec
    }
}
