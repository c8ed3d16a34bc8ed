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
            SchemaField("key_in_body", .boolean(required: true, default: false, validators: [{ value in
                value.boolValue == true ? "key_in_body is not supported by Argus yet: send the key in a header or the query" : nil
            }])),
            SchemaField("run_on_preflight", .boolean(required: true, default: true)),
            SchemaField("realm", .string()),
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
        checks: [.onlyOneOf(["allow", "deny"])])
}

public enum IPRestrictionPluginSchema {
    static let ipOrCIDR = FieldSpec.string(validators: [Typedefs.string { HostRules.isIPOrCIDR($0) ? nil : "invalid ip or cidr range: '\($0)'" }])

    public static let schema = PluginSchema(
        name: "ip-restriction", priority: 990,
        protocols: ["grpc", "grpcs", "http", "https", "tcp", "tls", "ws", "wss"],
        config: [
            SchemaField("allow", .array(of: ipOrCIDR)),
            SchemaField("deny", .array(of: ipOrCIDR)),
            SchemaField("status", .integer(between: 100...599)),
            SchemaField("message", .string()),
        ],
        checks: [.atLeastOneOf(["allow", "deny"])])
}
