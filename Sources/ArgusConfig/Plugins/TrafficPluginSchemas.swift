/// Kong's traffic plugins that run in the access phase (kong-compat §5.6, §5.10, §5.11).
public enum CorrelationIDPluginSchema {
    public static let schema = PluginSchema(
        name: "correlation-id", priority: 100_001,
        config: [
            SchemaField("header_name", .string(default: "Kong-Request-ID")),
            SchemaField("generator", .string(required: true, default: "uuid#counter", oneOf: ["uuid", "uuid#counter", "tracker"])),
            SchemaField("echo_downstream", .boolean(required: true, default: false)),
        ])
}

public enum CORSPluginSchema {
    static let methods = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT"]

    public static let schema = PluginSchema(
        name: "cors", priority: 2000, allowsConsumerScope: false, protocols: ["http", "https"],
        config: [
            SchemaField("origins", .array(of: .string(validators: [Typedefs.string { origin in
                origin == "*" ? nil : RegexCheck.problem(in: origin)
            }]))),
            SchemaField("headers", .array(of: .string())),
            SchemaField("exposed_headers", .array(of: .string())),
            SchemaField("methods", .array(of: .string(oneOf: methods), default: methods.map(JSONValue.string))),
            SchemaField("max_age", .number()),
            SchemaField("credentials", .boolean(required: true, default: false)),
            SchemaField("private_network", .boolean(required: true, default: false)),
            SchemaField("preflight_continue", .boolean(required: true, default: false)),
            SchemaField("allow_origin_absent", .boolean(required: true, default: true)),
        ])
}

public enum RequestSizeLimitingPluginSchema {
    public static let schema = PluginSchema(
        name: "request-size-limiting", priority: 951,
        config: [
            SchemaField("allowed_payload_size", .integer(default: 128, greaterThan: -1)),
            SchemaField("size_unit", .string(required: true, default: "megabytes", oneOf: ["megabytes", "kilobytes", "bytes"])),
            SchemaField("require_content_length", .boolean(required: true, default: false)),
        ])
}

/// Kong's request-transformer (kong-compat §5.8), body operations included (the request body is
/// read whole for them).
public enum RequestTransformerPluginSchema {
    static func section(_ extra: [SchemaField] = []) -> FieldSpec {
        .record([
            SchemaField("body", .array(of: .string(validators: [Typedefs.string(templatedPair)]), default: [])),
            SchemaField("headers", .array(of: .string(validators: [Typedefs.string(templatedPair)]), default: [])),
            SchemaField("querystring", .array(of: .string(validators: [Typedefs.string(templatedPair)]), default: [])),
        ] + extra, required: true)
    }

    static func colonPair(_ entry: String) -> String? {
        entry.contains(":") ? nil : "invalid value: \(entry)"
    }

    /// `name:value`, the value's templates evaluable.
    static func templatedPair(_ entry: String) -> String? {
        guard let colon = entry.firstIndex(of: ":") else { return "invalid value: \(entry)" }
        return template(String(entry[entry.index(after: colon)...]))
    }

    /// A value's templates must be ones Argus evaluates (Kong's message, Argus's reason).
    static func template(_ value: String) -> String? {
        guard value.contains("$(") else { return nil }
        if case .failure(let error) = TransformerTemplate.parse(value) {
            return "value '\(value)' is not in supported format, error:\(error.description)"
        }
        return nil
    }

    static let remove = FieldSpec.record([
        SchemaField("body", .array(of: .string(), default: [])),
        SchemaField("headers", .array(of: .string(), default: [])),
        SchemaField("querystring", .array(of: .string(), default: [])),
    ], required: true)

    public static let schema = PluginSchema(
        name: "request-transformer", priority: 801, acceptsStreamProtocols: true,
        config: [
            SchemaField("http_method", .string(validators: [Typedefs.string { m in
                m.allSatisfy { $0.isASCII && $0.isUppercase } && !m.isEmpty ? nil : "invalid value: \(m)"
            }])),
            SchemaField("remove", remove),
            SchemaField("rename", section()),
            SchemaField("replace", section([SchemaField("uri", .string(validators: [Typedefs.string(template)]))])),
            SchemaField("add", section()),
            SchemaField("append", section()),
        ])
}

/// Kong's response-transformer (kong-compat §5.9): response headers and JSON body fields.
public enum ResponseTransformerPluginSchema {
    static let jsonFields = FieldSpec.array(of: .string(), default: [])
    static let jsonTypes = FieldSpec.array(of: .string(oneOf: ["boolean", "number", "string"]), default: [])

    static func section(pairs: Bool, types: Bool) -> FieldSpec {
        let header = pairs ? FieldSpec.string(validators: [Typedefs.string(RequestTransformerPluginSchema.colonPair)]) : .string()
        return .record(
            [SchemaField("headers", .array(of: header, default: [])), SchemaField("json", .array(of: header, default: []))]
                + (types ? [SchemaField("json_types", jsonTypes)] : []),
            required: true)
    }

    public static let schema = PluginSchema(
        name: "response-transformer", priority: 800,
        config: [
            SchemaField("remove", section(pairs: false, types: false)),
            SchemaField("rename", section(pairs: true, types: false)),
            SchemaField("replace", section(pairs: true, types: true)),
            SchemaField("add", section(pairs: true, types: true)),
            SchemaField("append", section(pairs: true, types: true)),
        ])
}
