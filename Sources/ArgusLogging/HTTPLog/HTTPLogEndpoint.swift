import ArgusConfig
import Foundation

/// One http-log instance's delivery settings, from its plugin config.
struct HTTPLogEndpoint: Sendable {
    /// The endpoint without userinfo.
    var url: String
    /// Shown in metrics and logs: scheme, host, port and path (never the credentials).
    var display: String
    /// `Basic ...` from the URL's userinfo, as Kong does.
    var authorization: String?
    var method: String
    var contentType: String
    var headers: [(String, String)]
    var timeout: Duration
    var keepalive: Duration
    var maxBatchSize: Int
    var maxCoalescingDelay: Duration
    var maxEntries: Int
    var maxBytes: Int?
    var initialRetryDelay: Duration
    var maxRetryDelay: Duration
    var spoolMaxBytes: Int
    var gzip: Bool
    /// How records join into a body (http-log: JSON; opentelemetry: OTLP protobuf).
    var framing = BatchFraming.json
    /// The sink's name in its log messages and metrics (`http-log`, `opentelemetry`).
    var sinkName = "http-log"

    init(_ config: JSONValue) {
        let raw = config["http_endpoint"]?.stringValue ?? ""
        var components = URLComponents(string: raw)
        if let user = components?.percentEncodedUser {
            let password = components?.percentEncodedPassword ?? ""
            let decoded = (user.removingPercentEncoding ?? user) + ":" + (password.removingPercentEncoding ?? password)
            authorization = "Basic " + Data(decoded.utf8).base64EncodedString()
            components?.user = nil
            components?.password = nil
        }
        url = components?.string ?? raw
        display = url.split(separator: "?").first.map(String.init) ?? url
        method = config["method"]?.stringValue ?? "POST"
        contentType = config["content_type"]?.stringValue ?? "application/json"
        if case .object(let fields)? = config["headers"] {
            headers = fields.keys.sorted().compactMap { k in fields[k]?.stringValue.map { (k, $0) } }
        } else {
            headers = []
        }
        func ms(_ key: String, _ fallback: Double) -> Duration { .milliseconds(Int64(config[key]?.doubleValue ?? fallback)) }
        timeout = ms("timeout", 10_000)
        keepalive = ms("keepalive", 60_000)
        let queue = config["queue"] ?? .object([:])
        func seconds(_ key: String, _ fallback: Double) -> Duration {
            .milliseconds(Int64(((queue[key]?.doubleValue) ?? fallback) * 1000))
        }
        maxBatchSize = max(1, queue["max_batch_size"]?.intValue ?? 1)
        maxCoalescingDelay = seconds("max_coalescing_delay", 1)
        maxEntries = max(1, queue["max_entries"]?.intValue ?? 10_000)
        maxBytes = queue["max_bytes"]?.intValue
        initialRetryDelay = seconds("initial_retry_delay", 0.01)
        maxRetryDelay = seconds("max_retry_delay", 60)
        spoolMaxBytes = config["spool_max_bytes"]?.intValue ?? 256 << 20
        gzip = config["gzip"]?.boolValue ?? false
    }
}
