import ArgusConfig
import ArgusRedis

/// One rate-limiting plugin instance's config, read once per config snapshot from the validated
/// (defaults filled in) plugin record.
public struct RateLimitSettings: Sendable {
    /// What a counter is kept per (Kong's `limit_by`).
    public enum LimitBy: UInt8, Sendable {
        case consumer, credential, ip, service, header, path

        public var name: String { ["consumer", "credential", "ip", "service", "header", "path"][Int(rawValue)] }
    }

    public enum Policy: Sendable, Equatable { case local, redis }

    /// `fixed`: Kong's calendar windows. `sliding`: the previous window's count, weighted by how
    /// much of it still overlaps the last window-length of time, is added to the current one.
    public enum Algorithm: Sendable, Equatable { case fixed, sliding }

    /// The configured windows, shortest first, with their limits (a fractional limit admits as
    /// many requests as its ceiling, as Kong's `limit - usage > 0` does).
    public let limits: [(period: RateLimitPeriod, limit: Int64)]
    public let limitBy: LimitBy
    /// Lower-cased, for `limit_by: header`.
    public let headerName: String?
    public let path: String?
    public let policy: Policy
    public let faultTolerant: Bool
    public let hideClientHeaders: Bool
    public let errorCode: Int
    public let errorMessage: String
    /// Seconds between flushes of locally counted requests to Redis; nil = synchronous (Kong's -1).
    public let syncRate: Double?
    public let algorithm: Algorithm
    public let redis: RedisEndpoint?

    public init(config: JSONValue) {
        var limits: [(RateLimitPeriod, Int64)] = []
        for period in RateLimitPeriod.allCases {
            if let value = config[period.name]?.doubleValue, value > 0 {
                limits.append((period, Int64(min(value.rounded(.up), 9e15))))
            }
        }
        self.limits = limits
        switch config["limit_by"]?.stringValue {
        case "credential": limitBy = .credential
        case "ip": limitBy = .ip
        case "service": limitBy = .service
        case "header": limitBy = .header
        case "path": limitBy = .path
        default: limitBy = .consumer
        }
        headerName = config["header_name"]?.stringValue?.lowercased()
        path = config["path"]?.stringValue
        policy = config["policy"]?.stringValue == "redis" ? .redis : .local
        faultTolerant = config["fault_tolerant"]?.boolValue ?? true
        hideClientHeaders = config["hide_client_headers"]?.boolValue ?? false
        errorCode = config["error_code"]?.intValue ?? 429
        errorMessage = config["error_message"]?.stringValue ?? "API rate limit exceeded"
        let rate = config["sync_rate"]?.doubleValue ?? -1
        syncRate = rate > 0 ? rate : nil
        algorithm = config["algorithm"]?.stringValue == "sliding" ? .sliding : .fixed
        if policy == .redis, let record = config["redis"], let host = record["host"]?.stringValue {
            redis = RedisEndpoint(
                host: host, port: record["port"]?.intValue ?? 6379, username: record["username"]?.stringValue,
                password: record["password"]?.stringValue, database: record["database"]?.intValue ?? 0,
                timeoutMilliseconds: record["timeout"]?.intValue ?? 2000,
                connectTimeoutMilliseconds: record["connect_timeout"]?.intValue,
                tls: record["ssl"]?.boolValue ?? false, tlsVerify: record["ssl_verify"]?.boolValue ?? false,
                serverName: record["server_name"]?.stringValue, poolSize: min(record["keepalive_pool_size"]?.intValue ?? 256, 64))
        } else {
            redis = nil
        }
    }
}
