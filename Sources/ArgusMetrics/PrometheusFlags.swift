import ArgusConfig

/// The switches of one `prometheus` plugin instance (kong-compat §7; all default false).
public struct PrometheusFlags: Sendable, Hashable {
    public var perConsumer = false
    public var statusCodeMetrics = false
    public var latencyMetrics = false
    public var bandwidthMetrics = false
    public var upstreamHealthMetrics = false

    public init() {}

    public init(config: JSONValue) {
        perConsumer = config["per_consumer"]?.boolValue ?? false
        statusCodeMetrics = config["status_code_metrics"]?.boolValue ?? false
        latencyMetrics = config["latency_metrics"]?.boolValue ?? false
        bandwidthMetrics = config["bandwidth_metrics"]?.boolValue ?? false
        upstreamHealthMetrics = config["upstream_health_metrics"]?.boolValue ?? false
    }

    /// Whether the instance records anything per request.
    var recordsRequests: Bool { statusCodeMetrics || latencyMetrics || bandwidthMetrics }
}
