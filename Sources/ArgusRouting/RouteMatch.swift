import ArgusConfig

/// The outcome of a successful routing decision.
public struct RouteMatch: Sendable {
    let entry: RouteEntry
    /// The matched route, as configured.
    public var route: Route { entry.route }
    /// Index of the route in `DeclarativeConfig.routes` (compact id for events).
    public let routeIndex: Int
    /// The route's service; nil when the route has no service (the proxy answers 503).
    public var service: Service? { entry.service }
    /// Index of the service in `DeclarativeConfig.services`.
    public let serviceIndex: Int?
    /// Path of the upstream request per the strip_path / service.path table (kong-compat §2), escaped
    /// the way Kong escapes `upstream_uri` (`UpstreamPath.escape`). No query string: the proxy
    /// appends `?` + query when the request had one (even an empty one).
    public let upstreamPath: String
    /// What strip_path removed, for X-Forwarded-Prefix; nil when nothing or `/` was removed.
    public let strippedPrefix: String?
    /// Regex path captures: `"0"` (whole match), `"1"`, `"2"`... for groups that took part in the
    /// match, and named groups by name. Empty when the path is not a regex or has no group
    /// (Kong exposes `uri_captures` only when there is at least one group).
    public let captures: [String: String]

    public init(
        route: Route, routeIndex: Int, service: Service?, serviceIndex: Int?, upstreamPath: String,
        strippedPrefix: String?, captures: [String: String]
    ) {
        self.init(
            entry: RouteEntry(route: route, service: service), routeIndex: routeIndex, serviceIndex: serviceIndex,
            upstreamPath: upstreamPath, strippedPrefix: strippedPrefix, captures: captures)
    }

    init(
        entry: RouteEntry, routeIndex: Int, serviceIndex: Int?, upstreamPath: String, strippedPrefix: String?,
        captures: [String: String]
    ) {
        self.entry = entry
        self.routeIndex = routeIndex
        self.serviceIndex = serviceIndex
        self.upstreamPath = upstreamPath
        self.strippedPrefix = strippedPrefix
        self.captures = captures
    }
}

/// A route and its service, compiled once per router and shared by reference.
final class RouteEntry: Sendable {
    let route: Route
    let service: Service?

    init(route: Route, service: Service?) {
        self.route = route
        self.service = service
    }
}
