import ArgusTracing
import ArgusConfig
import ArgusDNS
import ArgusHealth
import ArgusRouting
import ArgusTransport

/// One immutable, compiled configuration: what a request sees from start to end, even when a
/// reload swaps in a newer one meanwhile.
public final class ConfigSnapshot: Sendable {
    public let config: DeclarativeConfig
    public let router: Router
    /// Per service (same index as `config.services`): timeouts, retries, target, balancer.
    public let services: [ServicePlan]
    /// Per route (same index as `config.routes`).
    public let routes: [RoutePlan]
    /// The access-phase plugins (authentication, access control, rate limiting) and the consumers.
    public let access: AccessCatalog
    /// Monotonic version given by the store.
    public let version: Int
    /// A logging plugin applies to requests that match no route (a global instance): record
    /// their details for the log sinks.
    public let recordsUnmatchedDetail: Bool
    /// The global `opentelemetry` instance, which traces requests that match no route.
    public let unmatchedTracing: TracePlan?

    /// The balancers by upstream name (their targets' health included).
    public let balancers: [String: UpstreamBalancer]
    /// `upstream|target` of the targets whose name did not resolve (Kong's `dns_error`).
    public let dnsErrors: Set<String>
    /// The target names resolved through DNS this snapshot was built with.
    public let resolved: [String: ResolvedName]
    /// The certificates TLS listeners serve, by server name.
    public let certificates: CertificateCatalog
    /// Upstreams' `client_certificate`s by upstream name (for active https probes).
    public let upstreamIdentities: [String: ClientIdentity]

    /// - Parameter health: where the targets' health lives across reloads; nil turns health checks off.
    /// `resolved`: upstream target names resolved through DNS (see `UpstreamBalancer`).
    /// `defaultCertificate`: what TLS listeners serve when no SNI matches.
    public convenience init(
        config: DeclarativeConfig, version: Int = 0, health: HealthRegistry? = nil, resolved: [String: ResolvedName] = [:],
        defaultCertificate: ServerCertificate? = nil
    ) {
        self.init(
            config: config, version: version, health: health, resolved: resolved, tlsContexts: .shared,
            defaultCertificate: defaultCertificate, serverContexts: .shared)
    }

    /// As above, with the TLS contexts made (and kept) in `tlsContexts` (tests use their own).
    public init(
        config: DeclarativeConfig, version: Int, health: HealthRegistry?, resolved: [String: ResolvedName], tlsContexts: TLSClientContexts,
        defaultCertificate: ServerCertificate? = nil, serverContexts: TLSServerContexts = .shared
    ) {
        self.config = config
        self.certificates = CertificateCatalog(config: config, defaultCertificate: defaultCertificate, contexts: serverContexts)
        self.router = Router(config: config)
        var balancers: [String: UpstreamBalancer] = [:]
        var dnsErrors = Set<String>()
        for upstream in config.upstreams {
            let targets = config.targets.filter { $0.upstreamID == upstream.id }
            balancers[upstream.name] = UpstreamBalancer(upstream: upstream, targets: targets, registry: health, resolved: resolved)
            for target in targets where resolved[target.host]?.failed == true { dnsErrors.insert("\(upstream.name)|\(target.target)") }
        }
        self.dnsErrors = dnsErrors
        self.resolved = resolved
        self.balancers = balancers
        let trusted = Dictionary(config.caCertificates.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let certificates = Dictionary(config.certificates.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var identities: [String: ClientIdentity] = [:]
        func identity(_ id: String?) -> ClientIdentity? {
            guard let id, let certificate = certificates[id] else { return nil }
            if let made = identities[id] { return made }
            let made = try? ClientIdentity(id: id, cert: certificate.cert, key: certificate.key)
            identities[id] = made
            return made
        }
        var upstreamIdentities: [String: ClientIdentity] = [:]
        for upstream in config.upstreams { upstreamIdentities[upstream.name] = identity(upstream.clientCertificateID) }
        self.upstreamIdentities = upstreamIdentities
        self.services = config.services.map { service in
            let cas = (service.caCertificates ?? []).compactMap { trusted[$0] }
            // the service's, else (Kong's fallback) its upstream's
            let identity = identity(service.clientCertificateID ?? balancers[service.host]?.upstream.clientCertificateID)
            return ServicePlan(
                service: service, balancer: balancers[service.host], trust: UpstreamTrust.make(cas.map { (digest: $0.certDigest, pem: $0.cert) }),
                identity: identity, tlsContexts: tlsContexts, resolved: resolved[service.host])
        }
        tlsContexts.keepOnly(services.filter(\.usesTLS).map { ($0.tlsVerify, $0.trust, $0.identity) })
        // Which routes a logging plugin (file-log, http-log, ...) may apply to. A consumer-scoped
        // instance may apply to any route (the consumer is known only later), so it counts everywhere.
        let loggers = PluginRegistry.loggingPlugins.map { PluginScopes(config: config, plugin: $0) }.filter { !$0.isEmpty }
        let routeServices = config.routeServiceIndexes()
        let access = AccessCatalog(config: config)
        self.access = access
        // Tracing is decided before the access phase, by route, service or global instance (an
        // instance scoped to a consumer is not known then: it traces nothing). One tracer per
        // request: an `opentelemetry` instance, else a `zipkin` one.
        let tracers = [
            (PluginScopes(config: config, plugin: "opentelemetry"), TracePlan.Flavor.opentelemetry),
            (PluginScopes(config: config, plugin: "zipkin"), .zipkin),
        ].filter { !$0.0.isEmpty }
        let pluginIndex = Dictionary(config.plugins.enumerated().map { ($1.id, Int16(clamping: $0)) }, uniquingKeysWith: { a, _ in a })
        var tracePlans: [String: TracePlan] = [:]
        func tracing(route: Int, service: Int) -> TracePlan? {
            for (scopes, flavor) in tracers {
                guard let plugin = scopes.resolve(route: route, service: service), plugin.runsOnHTTP,
                      let index = pluginIndex[plugin.id] else { continue }
                if let made = tracePlans[plugin.id] { return made }
                let made = TracePlan(config: plugin.config, plugin: index, flavor: flavor)
                tracePlans[plugin.id] = made
                return made
            }
            return nil
        }
        self.routes = config.routes.enumerated().map { r, route in
            let s = routeServices[r]
            let logged = loggers.contains { $0.hasConsumerScopes || $0.resolve(route: r, service: s) != nil }
            return RoutePlan(route: route, recordsDetail: logged, access: access.steps(route: r, service: s), tracing: tracing(route: r, service: s))
        }
        self.unmatchedTracing = tracing(route: -1, service: -1)
        self.recordsUnmatchedDetail = loggers.contains { $0.hasConsumerScopes || $0.resolve(route: -1, service: -1) != nil }
        self.version = version
    }

    public func withVersion(_ version: Int) -> ConfigSnapshot {
        ConfigSnapshot(self, version: version)
    }

    private init(_ other: ConfigSnapshot, version: Int) {
        self.config = other.config
        self.router = other.router
        self.balancers = other.balancers
        self.services = other.services
        self.routes = other.routes
        self.access = other.access
        self.recordsUnmatchedDetail = other.recordsUnmatchedDetail
        self.unmatchedTracing = other.unmatchedTracing
        self.dnsErrors = other.dnsErrors
        self.resolved = other.resolved
        self.certificates = other.certificates
        self.upstreamIdentities = other.upstreamIdentities
        self.version = version
    }
}

extension ConfigSnapshot {
    /// The upstreams whose targets the active health checker probes.
    public var activelyChecked: [ActiveHealthChecker.Upstream] {
        balancers.values.compactMap { balancer in
            guard balancer.health.activeEnabled, let health = balancer.targetHealth else { return nil }
            return ActiveHealthChecker.Upstream(
                name: balancer.upstream.name, settings: balancer.health, targets: health, identity: upstreamIdentities[balancer.upstream.name])
        }
    }

    /// A target's health state as Kong's `kong_upstream_target_health` names it:
    /// `healthchecks_off`, `healthy` or `unhealthy`.
    public func healthState(upstream: String, target: String) -> String {
        if dnsErrors.contains("\(upstream)|\(target)") { return "dns_error" }
        guard let health = targetHealth(upstream: upstream, target: target) else { return "healthchecks_off" }
        if !health.isHealthy { return "unhealthy" }
        return balancers[upstream]?.health.enabled == true ? "healthy" : "healthchecks_off"
    }

    /// A target's health object (by `host:port`), if the upstream balances it.
    public func targetHealth(upstream: String, target: String) -> TargetHealth? {
        guard let balancer = balancers[upstream], let health = balancer.targetHealth else { return nil }
        return health.first { $0.target == target }
    }

    /// Whether an upstream's health checks are on (an active interval or a passive counter set).
    public func healthchecksEnabled(upstream: String) -> Bool {
        balancers[upstream]?.health.enabled ?? false
    }
}
