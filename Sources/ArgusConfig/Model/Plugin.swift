/// A Kong Plugin instance (kong-compat §1.4). Null service/route/consumer everywhere means global.
public struct Plugin: Sendable, Equatable {
    public var id: String
    public var createdAt: Int
    public var updatedAt: Int
    public var name: String
    public var instanceName: String?
    /// The plugin's config record with the plugin schema's defaults filled in.
    public var config: JSONValue
    public var serviceID: String?
    public var routeID: String?
    public var consumerID: String?
    public var protocols: [String]
    public var enabled: Bool
    public var tags: [String]?

    public init(
        id: String, createdAt: Int = 0, updatedAt: Int = 0, name: String, instanceName: String? = nil,
        config: JSONValue = .object([:]), serviceID: String? = nil, routeID: String? = nil, consumerID: String? = nil,
        protocols: [String] = ["grpc", "grpcs", "http", "https"], enabled: Bool = true, tags: [String]? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.name = name
        self.instanceName = instanceName
        self.config = config
        self.serviceID = serviceID
        self.routeID = routeID
        self.consumerID = consumerID
        self.protocols = protocols
        self.enabled = enabled
        self.tags = tags
    }

    /// The instance runs on HTTP requests: enabled, with at least one protocol of Kong's `http`
    /// subsystem (`http`, `https`, `grpc`, `grpcs`). One for `tcp`/`tls` alone is inert here
    /// (Kong's `should_process_plugin`), as it would be in Kong's HTTP subsystem.
    public var runsOnHTTP: Bool {
        enabled && protocols.contains { $0 == "http" || $0 == "https" || $0 == "grpc" || $0 == "grpcs" }
    }
}
