import ArgusConfig

/// One rate-limiting plugin instance, compiled for a config snapshot: its settings, where it
/// sits in the config (for events), and its counter scope.
public final class RateLimitPlan: Sendable {
    public let settings: RateLimitSettings
    /// The instance's index in `config.plugins` (recorded in rejection events).
    public let pluginIndex: Int32
    /// Kong's counter scope: `<route id>:<service id>` of the plugin instance (the null UUID for
    /// a missing one), so the same instance keeps its counters across reloads, and Argus and Kong
    /// nodes sharing one Redis count together.
    public let scope: String

    public static let nullUUID = "00000000-0000-0000-0000-000000000000"

    public init(plugin: Plugin, index: Int) {
        settings = RateLimitSettings(config: plugin.config)
        pluginIndex = Int32(truncatingIfNeeded: index)
        scope = (plugin.routeID ?? Self.nullUUID) + ":" + (plugin.serviceID ?? Self.nullUUID)
    }

    /// Kong's identifier for `limit_by`; anything that can not be resolved falls back to the
    /// client's address (Kong's `get_forwarded_ip`).
    /// - Parameters:
    ///   - consumerID: the authenticated consumer, if any.
    ///   - credentialID: the credential it authenticated with, if any.
    ///   - serviceID: the matched service.
    ///   - header: reads a request header by lower-cased name.
    ///   - path: the request path (without the query).
    ///   - clientIP: the client's address.
    public func identifier(
        consumerID: String?, credentialID: String?, serviceID: String?, header: (String) -> String?, path: Substring,
        clientIP: String
    ) -> String {
        switch settings.limitBy {
        case .consumer: return consumerID ?? credentialID ?? clientIP
        case .credential: return credentialID ?? clientIP
        case .service: return serviceID ?? clientIP
        case .header: return settings.headerName.flatMap(header) ?? clientIP
        case .path: return settings.path.map { $0[...] == path ? $0 : clientIP } ?? clientIP
        case .ip: return clientIP
        }
    }

    /// Kong's Redis key for one window: `ratelimit:<route>:<service>:<identifier>:<window start ms>:<period>`.
    public func redisKey(identifier: String, period: RateLimitPeriod, windowStart: Int64) -> String {
        "ratelimit:\(scope):\(identifier):\(windowStart):\(period.name)"
    }
}
