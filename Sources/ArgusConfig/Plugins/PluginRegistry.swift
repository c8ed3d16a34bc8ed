/// The plugins Argus implements. A declarative `plugins` entry whose name is not here is rejected
/// with Kong's `plugin 'x' not enabled; add it to the 'plugins' configuration property`.
public enum PluginRegistry {
    /// Every built-in plugin schema. Each plugin adds its `PluginSchema` to this list.
    public static let builtins: [PluginSchema] = [
        PrometheusPluginSchema.schema, FileLogPluginSchema.schema, HTTPLogPluginSchema.schema, RateLimitingPluginSchema.schema,
        CorrelationIDPluginSchema.schema, CORSPluginSchema.schema, RequestSizeLimitingPluginSchema.schema,
        RequestTransformerPluginSchema.schema, ResponseTransformerPluginSchema.schema,
        ProxyCachePluginSchema.schema, RequestTerminationPluginSchema.schema, JWTPluginSchema.schema, KeyAuthPluginSchema.schema, BasicAuthPluginSchema.schema, ACLPluginSchema.schema, IPRestrictionPluginSchema.schema,
        SocketLogPluginSchemas.tcpLog, SocketLogPluginSchemas.udpLog, SyslogPluginSchema.schema, StatsdPluginSchema.schema,
        DatadogPluginSchema.schema, LogglyPluginSchema.schema, OpenTelemetryPluginSchema.schema, ZipkinPluginSchema.schema,
        ResponseRateLimitingPluginSchema.schema,
    ]

    private static let byName: [String: PluginSchema] = index(builtins)

    public static func schema(named name: String) -> PluginSchema? {
        byName[name]
    }

    /// Names of the built-in plugins that log requests (see ``PluginSchema/recordsRequestDetail``).
    public static let loggingPlugins: [String] = builtins.filter(\.recordsRequestDetail).map(\.name)

    /// Names of the built-in plugins, sorted.
    public static var names: [String] { byName.keys.sorted() }

    static func index(_ schemas: [PluginSchema]) -> [String: PluginSchema] {
        Dictionary(schemas.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }
}
