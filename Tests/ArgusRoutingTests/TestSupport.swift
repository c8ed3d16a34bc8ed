import ArgusConfig
@testable import ArgusRouting

/// The service most test routes point at.
let defaultService = Service(id: "svc", host: "upstream.internal")

func makeRoute(
    _ id: String, paths: [String]? = nil, hosts: [String]? = nil, methods: [String]? = nil,
    headers: [String: [String]]? = nil, snis: [String]? = nil, protocols: [String] = ["http", "https"],
    stripPath: Bool = true, regexPriority: Int = 0, serviceID: String? = "svc"
) -> Route {
    Route(
        id: id, protocols: protocols, methods: methods, hosts: hosts, paths: paths, headers: headers, snis: snis,
        stripPath: stripPath, regexPriority: regexPriority, serviceID: serviceID
    )
}

func makeRouter(_ routes: [Route], services: [Service] = [defaultService]) -> Router {
    Router(config: DeclarativeConfig(services: services, routes: routes))
}

extension Router {
    /// Matches a request whose path is first normalised like the proxy does.
    func match(
        _ rawPath: String, host: String = "example.com", method: String = "GET", port: Int = 8000,
        headers: [String: [String]] = [:], sni: String? = nil
    ) -> RouteMatch? {
        guard let path = PathNormalizer.normalize(Substring(rawPath)) else { return nil }
        return match(RouterRequest(method: method, host: host, port: port, path: path, sni: sni), headers: headers)
    }

    /// The id of the matched route, or nil.
    func matchedID(
        _ rawPath: String, host: String = "example.com", method: String = "GET", port: Int = 8000,
        headers: [String: [String]] = [:], sni: String? = nil
    ) -> String? {
        match(rawPath, host: host, method: method, port: port, headers: headers, sni: sni)?.route.id
    }
}
