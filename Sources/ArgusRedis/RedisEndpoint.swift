/// Where a Redis server is and how to talk to it (Kong's `redis` record of the rate-limiting plugin).
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// Per-command timeout (Kong's `timeout`, ms): a command without a reply by then fails and its
    /// connection is closed (a late reply would put the pipeline out of step).
    public var timeoutMilliseconds: Int
    /// Connect timeout (ms); `timeoutMilliseconds` when nil.
    public var connectTimeoutMilliseconds: Int?
    public var tls: Bool
    public var tlsVerify: Bool
    public var serverName: String?
    /// Connections per event loop at most.
    public var poolSize: Int

    public init(
        host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0,
        timeoutMilliseconds: Int = 2000, connectTimeoutMilliseconds: Int? = nil, tls: Bool = false,
        tlsVerify: Bool = false, serverName: String? = nil, poolSize: Int = 4
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.tls = tls
        self.tlsVerify = tlsVerify
        self.serverName = serverName
        self.poolSize = max(1, poolSize)
    }

    /// `host:port/db` (never the password).
    public var description: String { "\(tls ? "rediss" : "redis")://\(host):\(port)/\(database)" }
}
