/// Kong's `zipkin` plugin (3.9's schema): Zipkin v2 JSON spans to `http_endpoint` (optional: without
/// it the instance only propagates trace context), sampling by `sample_ratio`, request tags from a
/// header, static tags, and the same `propagation` as `opentelemetry` (with the deprecated
/// `header_type`/`default_header_type` mapped as Kong maps them).
public enum ZipkinPluginSchema {
    /// Tags the plugin sets itself; `static_tags` may not use these names (Kong's `PROTECTED_TAGS`).
    static let protectedTags = [
        "error", "http.method", "http.path", "http.status_code", "kong.balancer.state", "kong.balancer.try", "kong.consumer",
        "kong.credential", "kong.node.id", "kong.route", "kong.service", "lc", "peer.hostname",
    ]

    static let staticTag = FieldSpec.record([
        SchemaField("name", .string(required: true, validators: [Typedefs.string { name in
            protectedTags.contains(name) ? "must not be one of: " + protectedTags.joined(separator: ", ") : nil
        }])),
        SchemaField("value", .string(required: true)),
    ])

    /// Kong's `validate_static_tags`: a tag name once.
    static let staticTags = FieldSpec(.array(staticTag), validators: [{ value in
        var seen: Set<String> = []
        for tag in value.arrayValue ?? [] {
            guard let name = tag["name"]?.stringValue else { continue }
            if !seen.insert(name).inserted { return "repeated tags are not allowed: " + name }
        }
        return nil
    }])

    static let propagation: FieldSpec = {
        var spec = OpenTelemetryPluginSchema.propagation
        spec.defaultValue = .object(["default_format": .string("b3")])
        return spec
    }()

    static let fields: [SchemaField] = [
        SchemaField("local_service_name", .string(required: true, default: "kong")),
        SchemaField("http_endpoint", OpenTelemetryPluginSchema.endpoint),
        SchemaField("sample_ratio", .number(default: 0.001, between: 0...1)),
        SchemaField("default_service_name", .string()),
        SchemaField("include_credential", .boolean(required: true, default: true)),
        SchemaField("traceid_byte_count", .integer(required: true, default: 16, oneOf: [8, 16])),
        SchemaField("header_type", .string(
            required: true, default: "preserve", oneOf: ["preserve", "ignore", "b3", "b3-single", "w3c", "jaeger", "ot", "aws", "datadog", "gcp"])),
        SchemaField("default_header_type", .string(
            required: true, default: "b3", oneOf: ["b3", "b3-single", "w3c", "jaeger", "ot", "aws", "datadog", "gcp"])),
        SchemaField("tags_header", .string(required: true, default: "Zipkin-Tags")),
        SchemaField("static_tags", staticTags),
        SchemaField("http_span_name", .string(required: true, default: "method", oneOf: ["method", "method_path"])),
        SchemaField("connect_timeout", OpenTelemetryPluginSchema.timeout(2000)),
        SchemaField("send_timeout", OpenTelemetryPluginSchema.timeout(5000)),
        SchemaField("read_timeout", OpenTelemetryPluginSchema.timeout(5000)),
        SchemaField("http_response_header_for_traceid", .string()),
        SchemaField("phase_duration_flavor", .string(required: true, default: "annotations", oneOf: ["annotations", "tags"])),
        SchemaField("queue", HTTPLogPluginSchema.queue),
        SchemaField("propagation", propagation),
        // Argus's own, as http-log's: the disk budget that keeps spans through an outage
        SchemaField("spool_max_bytes", .integer(default: 256 << 20, greaterThan: 0)),
    ]

    /// Kong's `typedefs.protocols`: a Kong config enabling it on `tcp`/`tls` too loads (Argus
    /// traces HTTP and gRPC requests).
    public static let schema = PluginSchema(name: "zipkin", priority: 100_000, acceptsStreamProtocols: true, config: fields)
}
