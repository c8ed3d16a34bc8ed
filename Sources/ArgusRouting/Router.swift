import ArgusConfig

/// Kong's `traditional_compatible` router compiled into an immutable snapshot (kong-compat §2).
/// Build one per configuration; `match` is safe to call from any thread.
public final class Router: Sendable {
    let routes: [Route]
    let services: [Service]
    /// Each route with its service, shared by reference so that a match copies one pointer.
    let entries: [RouteEntry]
    /// Index in `services` of each route's service (by route index), nil without one.
    let serviceIndexOfRoute: [Int?]
    /// Virtual routes in rank order: position 0 has the highest priority.
    let virtualRoutes: [VirtualRoute]
    let index: RouteIndex
    private let compiledRouteCount: Int

    /// Compiles `config`. Skipped: routes whose protocols are neither HTTP nor gRPC (stream
    /// routes), routes whose service is disabled, and routes with a regex (path or
    /// `~*` header value) that does not compile (the loader already rejects those).
    public init(config: DeclarativeConfig) {
        routes = config.routes
        services = config.services
        var serviceIndexByID: [String: Int] = [:]
        for (position, service) in config.services.enumerated() where serviceIndexByID[service.id] == nil {
            serviceIndexByID[service.id] = position
        }

        var serviceIndexOfRoute: [Int?] = []
        var candidates: [VirtualRoute] = []
        var compiled = 0
        for (position, route) in config.routes.enumerated() {
            let serviceIndex = route.serviceID.flatMap { serviceIndexByID[$0] }
            serviceIndexOfRoute.append(serviceIndex)
            guard route.protocols.contains(where: { ["http", "https", "grpc", "grpcs"].contains($0) }) else { continue }
            if let serviceIndex, !config.services[serviceIndex].enabled { continue }
            guard let virtual = VirtualRoute.make(route: route, routeIndex: position) else { continue }
            candidates += virtual
            compiled += 1
        }
        self.serviceIndexOfRoute = serviceIndexOfRoute
        entries = config.routes.indices.map { i in
            RouteEntry(route: config.routes[i], service: serviceIndexOfRoute[i].map { config.services[$0] })
        }
        compiledRouteCount = compiled

        // Rank: priority descending, then route id descending (Kong's ATC router orders matchers by
        // (priority, uuid) descending), then configuration order for full determinism.
        virtualRoutes = candidates.enumerated().sorted { lhs, rhs in
            let (a, b) = (lhs.element, rhs.element)
            if a.priority != b.priority { return a.priority > b.priority }
            if a.routeID != b.routeID { return b.routeID.utf8.lexicographicallyPrecedes(a.routeID.utf8) }
            return lhs.offset < rhs.offset
        }.map(\.element)
        index = RouteIndex(virtualRoutes)
    }

    /// Number of configured routes the router can match (skipped routes excluded).
    public var routeCount: Int { compiledRouteCount }

    /// The highest-priority route matching `request`, or nil (the proxy answers 404).
    public func match(_ request: RouterRequest, headers: some RouterHeaders) -> RouteMatch? {
        var state = SearchState()
        let searched: Void? = request.path.utf8.withContiguousStorageIfAvailable { bytes in
            search(bytes, request: request, headers: headers, state: &state)
        }
        if searched == nil {
            var contiguous = request.path
            contiguous.makeContiguousUTF8()
            _ = contiguous.utf8.withContiguousStorageIfAvailable { bytes in
                search(bytes, request: request, headers: headers, state: &state)
            }
        }
        guard state.best != SearchState.none else { return nil }
        return makeMatch(virtualRoutes[Int(state.best)], state: state, request: request)
    }

    private func makeMatch(_ virtual: VirtualRoute, state: SearchState, request: RouterRequest) -> RouteMatch {
        let entry = entries[virtual.routeIndex]
        let route = entry.route
        let serviceIndex = serviceIndexOfRoute[virtual.routeIndex]
        let service = entry.service

        let matched: Substring?
        if let prefix = state.prefix {
            matched = Substring(prefix)
        } else if let regexMatch = state.regexMatch {
            matched = request.path[regexMatch.range]
        } else {
            matched = nil
        }
        let strip = route.stripPath
        let joined = UpstreamPath.join(
            servicePath: service?.path, requestPath: request.path, matchedPrefix: strip ? matched : nil, stripPath: strip
        )
        var strippedPrefix: String?
        if strip, let matched, !matched.isEmpty, matched != "/" {
            // Escaped like the upstream path: the decoded text may hold CR/LF (`%0d%0a`) and goes into a header.
            strippedPrefix = UpstreamPath.escape(String(matched))
        }
        return RouteMatch(
            entry: entry, routeIndex: virtual.routeIndex, serviceIndex: serviceIndex,
            upstreamPath: UpstreamPath.escape(joined), strippedPrefix: strippedPrefix,
            captures: state.regexMatch?.kongCaptures ?? [:]
        )
    }
}
