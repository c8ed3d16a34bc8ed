/// A Kong Upstream: a named, load-balanced set of targets (kong-compat §1.5). A Service whose
/// `host` equals an upstream's `name` is balanced over that upstream's targets.
public struct Upstream: Sendable, Equatable {
    public var id: String
    public var createdAt: Int
    public var updatedAt: Int
    public var name: String
    /// `round-robin`, `consistent-hashing`, `least-connections`, `latency`.
    public var algorithm: String
    public var hashOn: String
    public var hashFallback: String
    public var hashOnHeader: String?
    public var hashFallbackHeader: String?
    public var hashOnCookie: String?
    public var hashOnCookiePath: String
    public var hashOnQueryArg: String?
    public var hashFallbackQueryArg: String?
    public var hashOnURICapture: String?
    public var hashFallbackURICapture: String?
    public var slots: Int
    /// The full healthchecks tree with Kong's defaults filled in (kong-compat §1.5).
    public var healthchecks: JSONValue
    public var hostHeader: String?
    public var useSrvName: Bool
    public var tags: [String]?
    /// The certificate presented to its targets when the service has none (and by active health probes).
    public var clientCertificateID: String?

    public init(
        id: String, createdAt: Int = 0, updatedAt: Int = 0, name: String, algorithm: String = "round-robin",
        hashOn: String = "none", hashFallback: String = "none", hashOnHeader: String? = nil,
        hashFallbackHeader: String? = nil, hashOnCookie: String? = nil, hashOnCookiePath: String = "/",
        hashOnQueryArg: String? = nil, hashFallbackQueryArg: String? = nil, hashOnURICapture: String? = nil,
        hashFallbackURICapture: String? = nil, slots: Int = 10000, healthchecks: JSONValue = .null,
        hostHeader: String? = nil, useSrvName: Bool = false, tags: [String]? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.name = name
        self.algorithm = algorithm
        self.hashOn = hashOn
        self.hashFallback = hashFallback
        self.hashOnHeader = hashOnHeader
        self.hashFallbackHeader = hashFallbackHeader
        self.hashOnCookie = hashOnCookie
        self.hashOnCookiePath = hashOnCookiePath
        self.hashOnQueryArg = hashOnQueryArg
        self.hashFallbackQueryArg = hashFallbackQueryArg
        self.hashOnURICapture = hashOnURICapture
        self.hashFallbackURICapture = hashFallbackURICapture
        self.slots = slots
        self.healthchecks = healthchecks
        self.hostHeader = hostHeader
        self.useSrvName = useSrvName
        self.tags = tags
    }
}

/// A Kong Target: one `host:port` of an upstream (kong-compat §1.6). Port defaults to 8000.
public struct Target: Sendable, Equatable {
    public var id: String
    /// Float seconds with a millisecond fraction, as Kong reports targets.
    public var createdAt: Double
    public var updatedAt: Double
    public var upstreamID: String
    /// Normalised `host:port` (IPv6 in brackets).
    public var target: String
    public var host: String
    public var port: Int
    /// 0–65535, default 100; 0 disables the target.
    public var weight: Int
    public var tags: [String]?

    public init(
        id: String, createdAt: Double = 0, updatedAt: Double = 0, upstreamID: String, target: String,
        host: String, port: Int, weight: Int = 100, tags: [String]? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.upstreamID = upstreamID
        self.target = target
        self.host = host
        self.port = port
        self.weight = weight
        self.tags = tags
    }
}
