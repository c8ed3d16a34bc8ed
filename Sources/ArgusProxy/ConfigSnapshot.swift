import ArgusConfig
import ArgusRouting

/// One immutable, compiled configuration: what a request sees from start to end, even when a
/// reload swaps in a newer one meanwhile.
public final class ConfigSnapshot: Sendable {
    public let config: DeclarativeConfig
    public let router: Router
    /// Upstreams by name, with their balancer, for services whose host names an upstream.
    let balancers: [String: UpstreamBalancer]
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
        self.balancers = balancers
        self.version = version
    }

    func withVersion(_ version: Int) -> ConfigSnapshot {
        ConfigSnapshot(config: config, router: router, balancers: balancers, version: version)
    }

    private init(config: DeclarativeConfig, router: Router, balancers: [String: UpstreamBalancer], version: Int) {
        self.config = config
        self.router = router
        self.balancers = balancers
        self.version = version
    }
}
