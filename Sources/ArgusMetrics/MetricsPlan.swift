import ArgusConfig

/// What the Prometheus exporter needs to know about one config version, compiled once: for every
/// route, the `prometheus` instance that applies to it (Kong's scoping) and its interned
/// `service` and `route` label values; the global instance for requests that matched no route.
struct MetricsPlan: Sendable {
    struct RouteEntry: Sendable {
        var flags: PrometheusFlags?
        var service: Int32
        var route: Int32
    }

    let version: UInt32
    let config: DeclarativeConfig
    let scopes: PluginScopes
    let routes: [RouteEntry]
    /// Per route, the index of its service (-1 none).
    let routeServices: [Int]
    /// The global instance's flags: they apply to requests that matched no route.
    let unmatched: PrometheusFlags?
    /// Whether any instance asks for `kong_upstream_target_health`.
    let upstreamHealth: Bool
    /// Per consumer index, the interned `consumer` label; -1 until first needed.
    private var consumerLabels: [Int32]

    init(version: UInt32, config: DeclarativeConfig, labels: inout RequestLabels) {
        self.version = version
        self.config = config
        let scopes = PluginScopes(config: config, plugin: "prometheus")
        self.scopes = scopes
        let routeServices = config.routeServiceIndexes()
        self.routeServices = routeServices
        let serviceLabels = config.services.map { labels.services.id($0.name ?? $0.host) }
        routes = config.routes.enumerated().map { r, route in
            let s = routeServices[r]
            let flags = scopes.isEmpty ? nil : scopes.resolve(route: r, service: s).map { PrometheusFlags(config: $0.config) }
            return RouteEntry(flags: flags, service: s >= 0 ? serviceLabels[s] : 0, route: labels.routes.id(route.name ?? route.id))
        }
        unmatched = scopes.resolve(route: -1, service: -1).map { PrometheusFlags(config: $0.config) }
        upstreamHealth = scopes.instances.contains { PrometheusFlags(config: $0.config).upstreamHealthMetrics }
        consumerLabels = Array(repeating: -1, count: config.consumers.count)
    }

    /// Whether any `prometheus` instance exists (Kong then also exports `kong_nginx_metric_errors_total`).
    var hasInstances: Bool { !scopes.isEmpty }

    /// The flags for a request on `route` by `consumer` (indexes, -1 for none).
    @inline(__always)
    func flags(route: Int, consumer: Int) -> PrometheusFlags? {
        guard route >= 0 && route < routes.count else { return unmatched }
        if consumer >= 0 && scopes.hasConsumerScopes {
            return scopes.resolve(route: route, service: routeServices[route], consumer: consumer).map { PrometheusFlags(config: $0.config) }
        }
        return routes[route].flags
    }

    /// The interned `consumer` label of consumer `index` (username, as Kong; `""` without one).
    mutating func consumerLabel(_ index: Int, labels: inout RequestLabels) -> Int32 {
        guard index >= 0 && index < consumerLabels.count else { return 0 }
        if consumerLabels[index] < 0 { consumerLabels[index] = labels.consumers.id(config.consumers[index].username ?? "") }
        return consumerLabels[index]
    }
}
