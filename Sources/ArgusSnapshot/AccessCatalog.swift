import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusCache
import ArgusConfig
import ArgusRateLimit
import ArgusRedis
import ArgusTransport

/// A plugin instance the access phase runs, compiled once per snapshot.
public enum AccessInstance: Sendable {
    case correlationID(CorrelationIDPlan, plugin: Int16)
    case cors(CORSPlan, plugin: Int16)
    case requestSizeLimit(RequestSizeLimitPlan, plugin: Int16)
    case jwt(JWTPlan, plugin: Int16)
    case keyAuth(KeyAuthPlan, plugin: Int16)
    case basicAuth(BasicAuthPlan, plugin: Int16)
    case ipRestriction(IPRestrictionPlan, plugin: Int16)
    case acl(ACLPlan, plugin: Int16)
    case rateLimit(RateLimitPlan)
    case responseRateLimit(ResponseRateLimitPlan)
    case requestTransformer(RequestTransformerPlan)
    case responseTransformer(ResponseTransformerPlan)
    case proxyCache(ProxyCachePlan, plugin: Int16)
    case requestTermination(RequestTerminationPlan, plugin: Int16)
}

/// One plugin of a route's access phase, in Kong's execution order.
public struct AccessStep: Sendable {
    public let name: String
    /// The instance for a request whose consumer is not (or not yet) known: route, service or global scope.
    public let instance: AccessInstance?
    /// Instances scoped to consumers exist for this plugin: the instance is resolved again with
    /// the consumer once an authentication plugin has identified one.
    public let consumerScoped: Bool
    public let route: Int
    public let service: Int
}

/// The access-phase plugins of one snapshot: every instance compiled, the consumers and their
/// credentials indexed, and for each route its steps in Kong's order (descending priority).
public final class AccessCatalog: Sendable {
    /// The plugins the access phase runs, by descending Kong priority.
    public static let plugins: [String] = ["correlation-id", "cors", "request-size-limiting", "jwt", "key-auth", "basic-auth", "ip-restriction", "acl", "rate-limiting", "response-ratelimiting", "request-transformer", "response-transformer", "proxy-cache", "request-termination"]
        .sorted { (PluginRegistry.schema(named: $0)?.priority ?? 0) > (PluginRegistry.schema(named: $1)?.priority ?? 0) }

    /// Plugins that identify consumers.
    public static let authenticating: Set<String> = ["jwt", "key-auth", "basic-auth"]

    public let directory: ConsumerDirectory
    private let scopes: [String: PluginScopes]
    private let compiled: [String: AccessInstance]

    public init(config: DeclarativeConfig) {
        directory = ConsumerDirectory(config: config)
        var scopes: [String: PluginScopes] = [:]
        for name in Self.plugins {
            let found = PluginScopes(config: config, plugin: name)
            if !found.isEmpty { scopes[name] = found }
        }
        self.scopes = scopes
        var compiled: [String: AccessInstance] = [:]
        for (i, plugin) in config.plugins.enumerated() where scopes[plugin.name] != nil && plugin.runsOnHTTP {
            let index = Int16(clamping: i)
            switch plugin.name {
            case "correlation-id": compiled[plugin.id] = .correlationID(CorrelationIDPlan(config: plugin.config), plugin: index)
            case "cors": compiled[plugin.id] = .cors(CORSPlan(config: plugin.config), plugin: index)
            case "request-size-limiting":
                compiled[plugin.id] = .requestSizeLimit(RequestSizeLimitPlan(config: plugin.config), plugin: index)
            case "jwt": compiled[plugin.id] = .jwt(JWTPlan(config: plugin.config), plugin: index)
            case "key-auth": compiled[plugin.id] = .keyAuth(KeyAuthPlan(config: plugin.config), plugin: index)
            case "basic-auth": compiled[plugin.id] = .basicAuth(BasicAuthPlan(config: plugin.config), plugin: index)
            case "ip-restriction": compiled[plugin.id] = .ipRestriction(IPRestrictionPlan(config: plugin.config), plugin: index)
            case "acl": compiled[plugin.id] = .acl(ACLPlan(config: plugin.config), plugin: index)
            case "rate-limiting":
                let plan = RateLimitPlan(plugin: plugin, index: i)
                // A Redis endpoint over TLS: its client context made now, off the event loops
                // (verifying against the system's roots reads the whole trust store).
                if let redis = plan.settings.redis, redis.tls { _ = try? TLSClientContexts.shared.context(verify: redis.tlsVerify, trust: nil) }
                compiled[plugin.id] = .rateLimit(plan)
            case "response-ratelimiting":
                let plan = ResponseRateLimitPlan(plugin: plugin, index: i)
                if let redis = plan.redis, redis.tls { _ = try? TLSClientContexts.shared.context(verify: redis.tlsVerify, trust: nil) }
                compiled[plugin.id] = .responseRateLimit(plan)
            case "request-transformer": compiled[plugin.id] = .requestTransformer(RequestTransformerPlan(config: plugin.config))
            case "response-transformer": compiled[plugin.id] = .responseTransformer(ResponseTransformerPlan(config: plugin.config))
            case "proxy-cache": compiled[plugin.id] = .proxyCache(ProxyCachePlan(config: plugin.config), plugin: index)
            case "request-termination": compiled[plugin.id] = .requestTermination(RequestTerminationPlan(config: plugin.config), plugin: index)
            default: break
            }
        }
        self.compiled = compiled
    }

    /// The access steps of a request on `route` (of `service`), in execution order.
    public func steps(route: Int, service: Int) -> [AccessStep] {
        Self.plugins.compactMap { name in
            guard let scopes = scopes[name] else { return nil }
            let instance = scopes.resolve(route: route, service: service).flatMap { compiled[$0.id] }
            guard instance != nil || scopes.hasConsumerScopes else { return nil }
            return AccessStep(name: name, instance: instance, consumerScoped: scopes.hasConsumerScopes, route: route, service: service)
        }
    }

    /// The instance of `step` that applies once `consumer` (an index, -1 for none) is known.
    @inline(__always)
    public func instance(_ step: AccessStep, consumer: Int32) -> AccessInstance? {
        guard step.consumerScoped, consumer >= 0, let scopes = scopes[step.name] else { return step.instance }
        return scopes.resolve(route: step.route, service: step.service, consumer: Int(consumer)).flatMap { compiled[$0.id] }
    }
}
