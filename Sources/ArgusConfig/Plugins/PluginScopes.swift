/// The enabled instances of one plugin in a config, indexed by scope, answering Kong's question
/// "which instance applies to this request?" with Kong's precedence (most specific wins):
/// consumer+route+service, consumer+route, consumer+service, route+service, consumer, route,
/// service, global.
///
/// Scopes are given as indexes into `config.routes`, `config.services` and `config.consumers`,
/// `-1` for none (a request that matched no route has route and service `-1`).
public struct PluginScopes: Sendable {
    private struct Scope: Hashable {
        var route: Int32
        var service: Int32
        var consumer: Int32
    }

    /// The plugin's enabled instances, in the config's order.
    public let instances: [Plugin]
    private let byScope: [Scope: Int]
    /// Whether any instance is scoped to a consumer (otherwise the consumer never changes the answer).
    public let hasConsumerScopes: Bool

    public init(config: DeclarativeConfig, plugin name: String) {
        func indexes<T>(_ list: [T], _ id: (T) -> String) -> [String: Int32] {
            Dictionary(list.enumerated().map { (id($0.element), Int32($0.offset)) }, uniquingKeysWith: { a, _ in a })
        }
        let routes = indexes(config.routes, \.id)
        let services = indexes(config.services, \.id)
        let consumers = indexes(config.consumers, \.id)
        var found: [Plugin] = []
        var byScope: [Scope: Int] = [:]
        for plugin in config.plugins where plugin.name == name && plugin.runsOnHTTP {
            // A reference to an entity that is not in the config cannot match any request.
            func resolve(_ id: String?, _ table: [String: Int32]) -> Int32?? {
                guard let id else { return .some(-1) }
                return table[id].map { .some($0) } ?? .none
            }
            guard case .some(let route) = resolve(plugin.routeID, routes),
                  case .some(let service) = resolve(plugin.serviceID, services),
                  case .some(let consumer) = resolve(plugin.consumerID, consumers)
            else { continue }
            let scope = Scope(route: route!, service: service!, consumer: consumer!)
            if byScope[scope] == nil { byScope[scope] = found.count }
            found.append(plugin)
        }
        instances = found
        self.byScope = byScope
        hasConsumerScopes = byScope.keys.contains { $0.consumer >= 0 }
    }

    public var isEmpty: Bool { instances.isEmpty }

    /// The instance that applies to a request on `route` (of `service`) by `consumer`, or nil.
    public func resolve(route: Int, service: Int, consumer: Int = -1) -> Plugin? {
        resolveIndex(route: route, service: service, consumer: consumer).map { instances[$0] }
    }

    /// As ``resolve(route:service:consumer:)``, the instance's index in ``instances``.
    public func resolveIndex(route: Int, service: Int, consumer: Int = -1) -> Int? {
        if byScope.isEmpty { return nil }
        let r = Int32(route), s = Int32(service), c = hasConsumerScopes ? Int32(consumer) : -1
        // Kong's precedence, most specific first: route+service+consumer, route+consumer,
        // service+consumer, route+service, consumer, route, service, global. A component the
        // request lacks (-1) makes some candidates coincide; the order still holds.
        for k in 0..<8 {
            let scope: Scope
            switch k {
            case 0: scope = Scope(route: r, service: s, consumer: c)
            case 1: scope = Scope(route: r, service: -1, consumer: c)
            case 2: scope = Scope(route: -1, service: s, consumer: c)
            case 3: scope = Scope(route: r, service: s, consumer: -1)
            case 4: scope = Scope(route: -1, service: -1, consumer: c)
            case 5: scope = Scope(route: r, service: -1, consumer: -1)
            case 6: scope = Scope(route: -1, service: s, consumer: -1)
            default: scope = Scope(route: -1, service: -1, consumer: -1)
            }
            if let i = byScope[scope] { return i }
        }
        return nil
    }
}
