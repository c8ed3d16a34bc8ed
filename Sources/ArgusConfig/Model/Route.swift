/// A Kong Route: which requests go to which Service (kong-compat §1.2, §2).
public struct Route: Sendable, Equatable {
    public var id: String
    public var createdAt: Int
    public var updatedAt: Int
    public var name: String?
    /// Default `["http", "https"]`.
    public var protocols: [String]
    public var methods: [String]?
    public var hosts: [String]?
    /// Each starts with `/` (prefix) or `~/` (regex, anchored at the start).
    public var paths: [String]?
    /// Header name (lower-cased) → accepted values; a value starting `~*` is a regex.
    public var headers: [String: [String]]?
    public var snis: [String]?
    public var stripPath: Bool
    public var preserveHost: Bool
    public var regexPriority: Int
    public var pathHandling: String
    public var httpsRedirectStatusCode: Int
    public var requestBuffering: Bool
    public var responseBuffering: Bool
    /// The id of the Service, or nil (a route without a service answers 503).
    public var serviceID: String?
    public var tags: [String]?

    public init(
        id: String, createdAt: Int = 0, updatedAt: Int = 0, name: String? = nil,
        protocols: [String] = ["http", "https"], methods: [String]? = nil, hosts: [String]? = nil,
        paths: [String]? = nil, headers: [String: [String]]? = nil, snis: [String]? = nil,
        stripPath: Bool = true, preserveHost: Bool = false, regexPriority: Int = 0, pathHandling: String = "v0",
        httpsRedirectStatusCode: Int = 426, requestBuffering: Bool = true, responseBuffering: Bool = true,
        serviceID: String? = nil, tags: [String]? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.name = name
        self.protocols = protocols
        self.methods = methods
        self.hosts = hosts
        self.paths = paths
        self.headers = headers
        self.snis = snis
        self.stripPath = stripPath
        self.preserveHost = preserveHost
        self.regexPriority = regexPriority
        self.pathHandling = pathHandling
        self.httpsRedirectStatusCode = httpsRedirectStatusCode
        self.requestBuffering = requestBuffering
        self.responseBuffering = responseBuffering
        self.serviceID = serviceID
        self.tags = tags
    }
}
