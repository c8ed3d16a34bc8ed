import ArgusConfig
import ArgusEvents
import ArgusStatistics

/// Connection and request counts of the proxy listener, for `kong_nginx_connections_total` and
/// `kong_nginx_requests_total` (nginx's stub_status meanings).
public struct ConnectionGauges: Sendable, Hashable {
    public var accepted = 0
    public var handled = 0
    public var active = 0
    /// Connections reading a request head.
    public var reading = 0
    /// Connections with a request in progress (forwarding it or writing its response).
    public var writing = 0
    /// Idle keep-alive connections.
    public var waiting = 0
    public var requests = 0

    public init() {}
}

/// One upstream target's health, for `kong_upstream_target_health`.
public struct TargetHealth: Sendable, Hashable {
    public enum State: String, Sendable, CaseIterable {
        case healthchecksOff = "healthchecks_off", healthy, unhealthy, dnsError = "dns_error"
    }

    public var upstream: String
    public var target: String
    /// `ip:port` the target resolved to, `""` if it did not resolve.
    public var address: String
    public var state: State

    public init(upstream: String, target: String, address: String, state: State) {
        self.upstream = upstream
        self.target = target
        self.address = address
        self.state = state
    }
}

/// What the exporter reads from the rest of the gateway. Closures, so that this module needs
/// neither the proxy nor the app.
public struct MetricsSources: Sendable {
    /// `kong_node_info`'s node_id and version.
    public var nodeID: String
    public var version: String
    /// The config a version refers to: that version if it is still known, else the current one
    /// (with its own version). `UInt32.max` asks for the current one.
    public var config: @Sendable (_ version: UInt32) -> (version: UInt32, config: DeclarativeConfig)
    /// The proxy listener's connection states (may visit the event loops briefly).
    public var connections: @Sendable () async -> ConnectionGauges
    /// Every upstream target's health under `config`.
    public var targets: @Sendable (_ config: DeclarativeConfig) -> [TargetHealth]
    /// What the other exporters report about themselves (log sinks' records, queues, errors).
    public var statistics: @Sendable () -> [ExporterStatistic] = { [] }

    public init(
        nodeID: String, version: String,
        config: @escaping @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig),
        connections: @escaping @Sendable () async -> ConnectionGauges,
        targets: @escaping @Sendable (DeclarativeConfig) -> [TargetHealth]
    ) {
        self.nodeID = nodeID
        self.version = version
        self.config = config
        self.connections = connections
        self.targets = targets
    }
}
