import ArgusConfig
import ArgusRouting

/// One immutable, compiled configuration: what a request sees from start to end, even when a
/// reload swaps in a newer one meanwhile.
public final class ConfigSnapshot: Sendable {
    public let config: DeclarativeConfig
    public let router: Router
    /// Per service (same index as `config.services`): timeouts, retries, target, balancer.
    let services: [ServicePlan]
    /// Per route (same index as `config.routes`).
    let routes: [RoutePlan]
    /// Monotonic version given by the store.
    public let version: Int

    public init(config: DeclarativeConfig, version: Int = 0) {
        self.config = config
        self.router = Router(config: config)
        var balancers: [String: UpstreamBalancer] = [:]
        for upstream in config.upstreams {
            let targets = config.targets.filter { $0.upstreamID == upstream.id }
            balancers[upstream.name] = UpstreamBalancer(upstream: upstream, targets: targets)
        }
        self.services = config.services.map { ServicePlan(service: $0, balancer: balancers[$0.host]) }
        self.routes = config.routes.map(RoutePlan.init)
        self.version = version
    }

    func withVersion(_ version: Int) -> ConfigSnapshot {
        ConfigSnapshot(self, version: version)
    }

    private init(_ other: ConfigSnapshot, version: Int) {
        self.config = other.config
        self.router = other.router
        self.services = other.services
        self.routes = other.routes
        self.version = version
    }
}
