/// A whole validated declarative configuration (`kong.yml`), every nested entity flattened into
/// its own list with foreign keys resolved to ids. Lists keep the order the file gave.
public struct DeclarativeConfig: Sendable, Equatable {
    public var formatVersion: String
    public var services: [Service]
    public var routes: [Route]
    public var consumers: [Consumer]
    public var plugins: [Plugin]
    public var upstreams: [Upstream]
    public var targets: [Target]
    public var credentials: [Credential]
    public var caCertificates: [CACertificate]
    /// Server certificates for TLS at the edge, and the names they are served for.
    public var certificates: [Certificate]
    public var snis: [SNI]

    public init(
        formatVersion: String = "3.0", services: [Service] = [], routes: [Route] = [], consumers: [Consumer] = [],
        plugins: [Plugin] = [], upstreams: [Upstream] = [], targets: [Target] = [], credentials: [Credential] = [],
        caCertificates: [CACertificate] = [], certificates: [Certificate] = [], snis: [SNI] = []
    ) {
        self.formatVersion = formatVersion
        self.services = services
        self.routes = routes
        self.consumers = consumers
        self.plugins = plugins
        self.upstreams = upstreams
        self.targets = targets
        self.credentials = credentials
        self.caCertificates = caCertificates
        self.certificates = certificates
        self.snis = snis
    }

    /// An empty configuration: every request answers 404 `no Route matched with those values`.
    public static let empty = DeclarativeConfig()

    /// One line for logs and `argus config validate`: "2 services, 3 routes, ...".
    public var summary: String {
        func n(_ count: Int, _ word: String) -> String { "\(count) \(word)\(count == 1 ? "" : "s")" }
        return [
            n(services.count, "service"), n(routes.count, "route"), n(consumers.count, "consumer"),
            n(plugins.count, "plugin"), n(upstreams.count, "upstream"), n(targets.count, "target"),
        ].joined(separator: ", ")
    }
}

extension DeclarativeConfig {
    /// For each route (same index as `routes`), the index of its service in `services`, or -1.
    public func routeServiceIndexes() -> [Int] {
        let byID = Dictionary(services.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { first, _ in first })
        return routes.map { route in route.serviceID.flatMap { byID[$0] } ?? -1 }
    }
}
