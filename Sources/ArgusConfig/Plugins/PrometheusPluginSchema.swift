/// Kong's `prometheus` plugin (kong-compat §7): which request metric families are collected for
/// the requests the instance applies to. Every flag defaults to `false`, as in Kong 3.x.
public enum PrometheusPluginSchema {
    public static let schema = PluginSchema(
        name: "prometheus", priority: 13, acceptsStreamProtocols: true,
        config: [
            SchemaField("per_consumer", .boolean(default: false)),
            SchemaField("status_code_metrics", .boolean(default: false)),
            SchemaField("latency_metrics", .boolean(default: false)),
            SchemaField("bandwidth_metrics", .boolean(default: false)),
            SchemaField("upstream_health_metrics", .boolean(default: false)),
            SchemaField("ai_metrics", .boolean(default: false)),
            SchemaField("wasm_metrics", .boolean(default: false)),
        ])
}
