/// Kong's authentication and access-control plugins (kong-compat §5.2, §5.4, §5.5), whose
/// instances run in the access phase before rate limiting.
public enum KeyAuthPluginSchema {
    public static let schema = PluginSchema(
        name: "key-auth", priority: 1250, allowsConsumerScope: false,
        protocols: ["grpc", "grpcs", "http", "https", "ws", "wss"],
        config: [
            SchemaField("key_names", .array(of: Typedefs.headerName, required: true, default: [.string("apikey")], lenMin: 1)),
            SchemaField("hide_credentials", .boolean(required: true, default: false)),
            SchemaField("anonymous", .string()),
            SchemaField("key_in_header", .boolean(required: true, default: true)),
            SchemaField("key_in_query", .boolean(required: true, default: true)),
            SchemaField("key_in_body", .boolean(required: true, default: false)),
            SchemaField("run_on_preflight", .boolean(required: true, default: true)),
            SchemaField("realm", .string()),
        ])
}

public enum JWTPluginSchema {
    public static let schema = PluginSchema(
        name: "jwt", priority: 1450, allowsConsumerScope: false,
        protocols: ["grpc", "grpcs", "http", "https", "ws", "wss"],
        config: [
            SchemaField("uri_param_names", .set(of: .string(), default: [.string("jwt")])),
            SchemaField("cookie_names", .set(of: .string(), default: [])),
            SchemaField("key_claim_name", .string(default: "iss")),
            SchemaField("secret_is_base64", .boolean(required: true, default: false)),
            SchemaField("claims_to_verify", .set(of: .string(oneOf: ["exp", "nbf"]))),
            SchemaField("anonymous", .string()),
            SchemaField("run_on_preflight", .boolean(required: true, default: true)),
            SchemaField("maximum_expiration", .integer(default: 0, between: 0...31_536_000)),
            SchemaField("header_names", .set(of: .string(), default: [.string("authorization")])),
            SchemaField("realm", .string()),
        ],
        checks: [
            RecordCheck { record, path in
                guard (record["maximum_expiration"]?.intValue ?? 0) > 0 else { return [] }
                let claims = record["claims_to_verify"]?.arrayValue?.compactMap(\.stringValue) ?? []
                return claims.contains("exp") ? [] : [FieldError(path: path + ".claims_to_verify", message: "expected to contain: exp")]
            },
        ])
}

public enum BasicAuthPluginSchema {
    public static let schema = PluginSchema(
        name: "basic-auth", priority: 1100, allowsConsumerScope: false,
        protocols: ["grpc", "grpcs", "http", "https", "ws", "wss"],
        config: [
            SchemaField("anonymous", .string()),
            SchemaField("hide_credentials", .boolean(required: true, default: false)),
            SchemaField("realm", .string(required: true, default: "service")),
        ])
}

public enum ACLPluginSchema {
    public static let schema = PluginSchema(
        name: "acl", priority: 950, allowsConsumerScope: false,
        protocols: ["grpc", "grpcs", "http", "https", "ws", "wss"],
        config: [
            SchemaField("allow", .array(of: .string())),
            SchemaField("deny", .array(of: .string())),
            SchemaField("hide_groups_header", .boolean(required: true, default: false)),
            SchemaField("always_use_authenticated_groups", .boolean(required: true, default: false)),
        ],
        checks: [.configOnlyOneOf(["allow", "deny"]), .configAtLeastOneOf(["allow", "deny"])])
}

public enum IPRestrictionPluginSchema {
    static let ipOrCIDR = FieldSpec.string(validators: [Typedefs.string { HostRules.isIPOrCIDR($0) ? nil : "invalid ip or cidr range: '\($0)'" }])

    public static let schema = PluginSchema(
        name: "ip-restriction", priority: 990,
        protocols: ["grpc", "grpcs", "http", "https", "tcp", "tls", "ws", "wss"], acceptsStreamProtocols: true,
        config: [
            SchemaField("allow", .array(of: ipOrCIDR)),
            SchemaField("deny", .array(of: ipOrCIDR)),
            SchemaField("status", .integer(between: 100...599)),
            SchemaField("message", .string()),
        ],
        checks: [.configAtLeastOneOf(["allow", "deny"])])
}

extension RecordCheck {
    /// Kong's plugin entity check `at_least_one_of = { "config.a", "config.b" }`, on the config record.
    static func configAtLeastOneOf(_ names: [String]) -> RecordCheck {
        RecordCheck { record, path in
            names.contains { isNonEmpty(record[$0]) }
                ? [] : [FieldError(path: path, message: KongMessage.atLeastOneOf(names.map { "config." + $0 }))]
        }
    }

    /// Kong's plugin entity check `only_one_of = { "config.a", "config.b" }`: not two of them.
    static func configOnlyOneOf(_ names: [String]) -> RecordCheck {
        RecordCheck { record, path in
            names.filter { isNonEmpty(record[$0]) }.count <= 1
                ? [] : [FieldError(path: path, message: "only one of these fields must be non-empty: " + KongMessage.quoted(names.map { "config." + $0 }))]
        }
    }
}
