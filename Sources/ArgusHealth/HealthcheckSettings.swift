import ArgusConfig

/// An upstream's `healthchecks` record (kong-compat §1.5, §9), read once per config snapshot.
public struct HealthcheckSettings: Sendable, Equatable {
    public struct Thresholds: Sendable, Equatable {
        public var healthyStatuses: Set<Int>
        public var successes: Int
        public var unhealthyStatuses: Set<Int>
        public var tcpFailures: Int
        public var timeouts: Int
        public var httpFailures: Int
    }

    public enum ProbeType: String, Sendable { case tcp, http, https, grpc, grpcs }

    public var active: Thresholds
    public var passive: Thresholds
    public var activeType: ProbeType
    public var httpPath: String
    public var timeoutSeconds: Double
    public var concurrency: Int
    public var healthyInterval: Double
    public var unhealthyInterval: Double
    public var headers: [(String, String)]
    /// `https` probes: the SNI (default: the target's host) and whether the certificate is verified.
    public var httpsSNI: String?
    public var httpsVerifyCertificate: Bool
    /// The balancer is healthy while more than this percentage of the weight is available.
    public var threshold: Double

    public static func == (a: Self, b: Self) -> Bool {
        a.active == b.active && a.passive == b.passive && a.activeType == b.activeType && a.httpPath == b.httpPath
            && a.timeoutSeconds == b.timeoutSeconds && a.healthyInterval == b.healthyInterval
            && a.unhealthyInterval == b.unhealthyInterval && a.threshold == b.threshold
            && a.headers.map { "\($0.0):\($0.1)" } == b.headers.map { "\($0.0):\($0.1)" }
            && a.httpsSNI == b.httpsSNI && a.httpsVerifyCertificate == b.httpsVerifyCertificate
    }

    public init(_ record: JSONValue) {
        func thresholds(_ r: JSONValue?) -> Thresholds {
            func statuses(_ v: JSONValue?) -> Set<Int> { Set(v?.arrayValue?.compactMap(\.intValue) ?? []) }
            return Thresholds(
                healthyStatuses: statuses(r?["healthy"]?["http_statuses"]), successes: r?["healthy"]?["successes"]?.intValue ?? 0,
                unhealthyStatuses: statuses(r?["unhealthy"]?["http_statuses"]),
                tcpFailures: r?["unhealthy"]?["tcp_failures"]?.intValue ?? 0, timeouts: r?["unhealthy"]?["timeouts"]?.intValue ?? 0,
                httpFailures: r?["unhealthy"]?["http_failures"]?.intValue ?? 0)
        }
        let active = record["active"]
        self.active = thresholds(active)
        passive = thresholds(record["passive"])
        activeType = ProbeType(rawValue: active?["type"]?.stringValue ?? "http") ?? .http
        httpPath = active?["http_path"]?.stringValue ?? "/"
        timeoutSeconds = active?["timeout"]?.doubleValue ?? 1
        concurrency = active?["concurrency"]?.intValue ?? 10
        healthyInterval = active?["healthy"]?["interval"]?.doubleValue ?? 0
        unhealthyInterval = active?["unhealthy"]?["interval"]?.doubleValue ?? 0
        var headers: [(String, String)] = []
        if case .object(let fields)? = active?["headers"] {
            for (name, values) in fields.sorted(by: { $0.key < $1.key }) {
                for value in values.arrayValue ?? [] { if let v = value.stringValue { headers.append((name, v)) } }
            }
        }
        self.headers = headers
        httpsSNI = active?["https_sni"]?.stringValue
        httpsVerifyCertificate = active?["https_verify_certificate"]?.boolValue ?? true
        threshold = record["threshold"]?.doubleValue ?? 0
    }

    /// Kong: checking is on when an active interval or a passive unhealthy counter is non-zero.
    public var enabled: Bool { activeEnabled || passiveEnabled }
    public var activeEnabled: Bool { healthyInterval > 0 || unhealthyInterval > 0 }
    public var passiveEnabled: Bool { passive.tcpFailures > 0 || passive.timeouts > 0 || passive.httpFailures > 0 }
}
