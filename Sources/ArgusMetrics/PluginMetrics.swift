import ArgusConfig
import ArgusEvents

/// Argus's own plugin families, from the events of requests a plugin refused or could not check:
/// `argus_access_rejections_total{service,route,plugin,instance,reason}` (authentication and
/// access control: 401/403 by route and reason) and, for rate limiting,
/// `argus_ratelimit_rejections_total{service,route,plugin,limit_by,period}` and
/// `argus_ratelimit_store_errors_total{service,route,plugin}`. Always exported (no `prometheus`
/// plugin needed), so a 429 storm is visible per route and per limit, and gateway-made 429s stand
/// apart from upstream ones (`kong_http_requests_total{source="kong"}` says the same, when enabled).
/// proxy-cache's outcome per request: `argus_proxy_cache_requests_total{service,route,cache_status}`
/// (hit, miss, refresh, bypass), so the hit ratio per route is one query.
struct PluginMetrics: Sendable {
    private struct Key: Hashable, Sendable {
        var service: Int32, route: Int32
        var plugin: String
        var limitBy: String
        var period: UInt8
    }

    private var rejections = SeriesTable<Key>()
    private var storeErrors = SeriesTable<Key>()
    private var accessRejections = SeriesTable<AccessKey>()
    private var clients: LabelValues
    private var clientRejections = SeriesTable<ClientKey>()
    private var cacheRequests = SeriesTable<CacheKey>()

    private struct CacheKey: Hashable, Sendable {
        var service: Int32, route: Int32
        var status: UInt8
    }

    private struct ClientKey: Hashable, Sendable {
        var client: Int32
        var plugin: String
    }

    private struct AccessKey: Hashable, Sendable {
        var service: Int32, route: Int32
        var plugin: String, instance: String, reason: String
    }

    init(clientBudget: Int = 256) {
        clients = LabelValues(label: "client", budget: clientBudget)
    }

    /// The client label's budget use, for `argus_metrics_label_overflow_total`.
    var clientLabel: LabelValues { clients }

    static let periods = ["", "second", "minute", "hour", "day", "month", "year"]

    /// Whether `event` is one these families count (cheap test first, on every event).
    @inline(__always)
    static func concerns(_ event: RequestEvent) -> Bool {
        event.plugin >= 0 || event.flags & 0x0E != 0
    }

    mutating func record(_ event: RequestEvent, plan: MetricsPlan, labels: RequestLabels) {
        var service: Int32 = 0, route: Int32 = 0
        let r = Int(event.route)
        if r >= 0 && r < plan.routes.count {
            service = plan.routes[r].service
            route = plan.routes[r].route
        }
        let cacheStatus = EventFlags(rawValue: event.flags).cacheStatus
        if cacheStatus != 0, Int(cacheStatus) < EventFlags.cacheStatusNames.count {
            let key = CacheKey(service: service, route: route, status: cacheStatus)
            cacheRequests.cells[cacheRequests.slot(key) {
                var w = ExpositionWriter()
                w.label("service", labels.services.escaped[Int(key.service)], first: true)
                w.label("route", labels.routes.escaped[Int(key.route)])
                w.label("cache_status", EventFlags.cacheStatusNames[Int(key.status)])
                return w.bytes
            }] &+= 1
        }
        let index = Int(event.plugin)
        guard index >= 0, index < plan.config.plugins.count else { return }
        let plugin = plan.config.plugins[index]
        let name = plugin.instanceName ?? plugin.id
        guard plugin.name == "rate-limiting" || plugin.name == "response-ratelimiting" else {
            guard event.decision == .authFailed || (event.decision == .pluginResponse && event.reason == 15) else { return }
            let key = AccessKey(
                service: service, route: route, plugin: plugin.name, instance: name,
                reason: AccessReason.name(plugin: plugin.name, reason: event.reason))
            accessRejections.cells[accessRejections.slot(key) { Self.renderAccess(key, labels) }] &+= 1
            // Failed authentication per client address: a burst of bad keys from one address stands out.
            if event.decision == .authFailed {
                let client = clients.id(ClientAddressText.format(event))
                clients.fold(client)
                let clientKey = ClientKey(client: client, plugin: plugin.name)
                let escaped = clients.escaped[Int(client)]
                clientRejections.cells[clientRejections.slot(clientKey) {
                    var w = ExpositionWriter()
                    w.label("client", escaped, first: true)
                    w.label("plugin", clientKey.plugin)
                    return w.bytes
                }] &+= 1
            }
            return
        }
        let limitBy = plugin.config["limit_by"]?.stringValue ?? "consumer"
        if event.decision == .rateLimited {
            let period = event.reason < Self.periods.count ? event.reason : 0
            let key = Key(service: service, route: route, plugin: name, limitBy: limitBy, period: period)
            rejections.cells[rejections.slot(key) { Self.render(key, labels, withPeriod: true) }] &+= 1
        }
        if event.flags & EventFlags.rateLimitStoreError.rawValue != 0 {
            let key = Key(service: service, route: route, plugin: name, limitBy: limitBy, period: 0)
            storeErrors.cells[storeErrors.slot(key) { Self.render(key, labels, withPeriod: false) }] &+= 1
        }
    }

    private static func renderAccess(_ key: AccessKey, _ labels: RequestLabels) -> [UInt8] {
        var w = ExpositionWriter()
        w.label("service", labels.services.escaped[Int(key.service)], first: true)
        w.label("route", labels.routes.escaped[Int(key.route)])
        w.label("plugin", key.plugin)
        w.label("instance", key.instance)
        w.label("reason", key.reason)
        return w.bytes
    }

    private static func render(_ key: Key, _ labels: RequestLabels, withPeriod: Bool) -> [UInt8] {
        var w = ExpositionWriter()
        w.label("service", labels.services.escaped[Int(key.service)], first: true)
        w.label("route", labels.routes.escaped[Int(key.route)])
        w.label("plugin", key.plugin)
        w.label("limit_by", key.limitBy)
        if withPeriod { w.label("period", periods[Int(key.period)]) }
        return w.bytes
    }

    /// Names of the families that have series.
    var familyNames: [String] {
        (rejections.count > 0 ? ["argus_ratelimit_rejections_total"] : [])
            + (storeErrors.count > 0 ? ["argus_ratelimit_store_errors_total"] : [])
            + (accessRejections.count > 0 ? ["argus_access_rejections_total"] : [])
            + (clientRejections.count > 0 ? ["argus_access_rejections_by_client_total"] : [])
            + (cacheRequests.count > 0 ? ["argus_proxy_cache_requests_total"] : [])
    }

    mutating func write(_ family: String, into out: inout ExpositionWriter) {
        switch family {
        case "argus_ratelimit_rejections_total":
            out.header(family, "counter", "Requests a rate-limiting instance rejected, by route, instance, limit_by and exhausted window")
            RequestMetrics.writeCounter(&rejections, family, into: &out)
        case "argus_access_rejections_total":
            out.header(family, "counter", "Requests an authentication or access-control plugin refused, by route, plugin, instance and reason")
            RequestMetrics.writeCounter(&accessRejections, family, into: &out)
        case "argus_access_rejections_by_client_total":
            out.header(family, "counter", "Requests refused 401/403 by an access plugin, by client address (a bounded number of addresses)")
            RequestMetrics.writeCounter(&clientRejections, family, into: &out)
        case "argus_proxy_cache_requests_total":
            out.header(family, "counter", "Requests a proxy-cache instance handled, by route and X-Cache-Status (hit, miss, refresh, bypass)")
            RequestMetrics.writeCounter(&cacheRequests, family, into: &out)
        case "argus_ratelimit_store_errors_total":
            out.header(family, "counter", "Requests whose rate-limit check failed because the counter store (Redis) failed")
            RequestMetrics.writeCounter(&storeErrors, family, into: &out)
        default:
            break
        }
    }
}
