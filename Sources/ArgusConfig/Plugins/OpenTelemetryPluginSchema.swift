/// Kong's `opentelemetry` plugin (3.9's schema): spans (`traces_endpoint`) and log records
/// (`logs_endpoint`) over OTLP/HTTP, trace context propagation, sampling. The deprecated
/// `endpoint` is Kong's shorthand for `traces_endpoint`; `header_type`, `batch_span_count` and
/// `batch_flush_delay` are accepted as Kong accepts them.
public enum OpenTelemetryPluginSchema {
    /// Kong's propagation formats (`kong.observability.tracing.propagation.utils.FORMATS`).
    public static let formats = ["w3c", "b3", "b3-single", "jaeger", "ot", "datadog", "aws", "gcp"]

    static let timeout = FieldSpec.integer(between: 0...2_147_483_646)

    static func timeout(_ value: Int) -> FieldSpec {
        var spec = timeout
        spec.defaultValue = .int(value)
        return spec
    }

    static let endpoint = FieldSpec.string(validators: [Typedefs.string(HTTPLogPluginSchema.validateEndpoint)])

    /// String keys and values (Kong's strings are at least one character long).
    static let resourceAttributes = FieldSpec.map(keys: .string(required: true), values: .string(required: true))

    static let propagation: FieldSpec = {
        var spec = FieldSpec.record([
            SchemaField("extract", .array(of: .string(oneOf: formats.filter { $0 != "b3-single" }))),
            SchemaField("clear", .array(of: Typedefs.headerName)),
            SchemaField("inject", .array(of: .string(oneOf: ["preserve"] + formats))),
            SchemaField("default_format", .string(required: true, oneOf: formats)),
        ], required: true)
        spec.defaultValue = .object(["default_format": .string("w3c")])
        return spec
    }()

    static let queue: FieldSpec = {
        var spec = HTTPLogPluginSchema.queue
        spec.defaultValue = .object(["max_batch_size": .int(200)])
        return spec
    }()

    static let spec = FieldSpec.record(
        [
            SchemaField("traces_endpoint", endpoint),
            SchemaField("logs_endpoint", endpoint),
            SchemaField("headers", .map(keys: Typedefs.headerName, values: .string())),
            SchemaField("resource_attributes", resourceAttributes),
            SchemaField("queue", queue),
            SchemaField("batch_span_count", .integer()),
            SchemaField("batch_flush_delay", .integer()),
            SchemaField("connect_timeout", timeout(1000)),
            SchemaField("send_timeout", timeout(5000)),
            SchemaField("read_timeout", timeout(5000)),
            SchemaField("http_response_header_for_traceid", .string()),
            SchemaField("header_type", .string(default: "preserve", oneOf: ["preserve", "ignore"] + formats)),
            SchemaField("sampling_rate", .number(between: 0...1)),
            SchemaField("propagation", propagation),
            // Argus's own, as http-log's: the disk budget that keeps records through an outage
            SchemaField("spool_max_bytes", .integer(default: 256 << 20, greaterThan: 0)),
        ],
        checks: [.atLeastOneOf(["traces_endpoint", "logs_endpoint"])])

    public static let schema = PluginSchema(
        name: "opentelemetry", priority: 14, protocols: ["grpc", "grpcs", "http", "https"], recordsRequestDetail: false,
        configSpec: spec
    ) { config, path, errors in
        // Kong's shorthand: `endpoint` is `traces_endpoint`
        var config = config
        if case .object(var fields) = config, let endpoint = fields.removeValue(forKey: "endpoint") {
            if endpoint != .null { fields["traces_endpoint"] = endpoint }
            config = .object(fields)
        }
        return SchemaValidator.validate(config, spec, path: path, errors: &errors) ?? config
    }
}
