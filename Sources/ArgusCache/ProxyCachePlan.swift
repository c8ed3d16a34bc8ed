import ArgusConfig
import ArgusHTTP
import Crypto

/// One proxy-cache instance compiled from its config (kong-compat §5.7): which requests may be
/// served from the cache, how their key is made, which responses are stored and for how long.
public struct ProxyCachePlan: Sendable {
    public let methods: Set<String>
    public let statuses: Set<Int>
    public let contentTypes: [MediaType]
    public let cacheTTL: Double
    public let storageTTL: Double?
    public let cacheControl: Bool
    public let ignoreURICase: Bool
    public let varyQueryParams: [String]?
    public let varyHeaders: [String]?
    public let sendAge: Bool
    public let sendStatus: Bool
    public let sendKey: Bool

    public init(config: JSONValue) {
        func strings(_ name: String) -> [String]? { config[name]?.arrayValue?.compactMap(\.stringValue) }
        methods = Set(strings("request_method") ?? ["GET", "HEAD"])
        statuses = Set(config["response_code"]?.arrayValue?.compactMap(\.intValue) ?? [200, 301, 404])
        contentTypes = (strings("content_type") ?? ["text/plain", "application/json"]).compactMap(MediaType.init)
        cacheTTL = config["cache_ttl"]?.doubleValue ?? 300
        storageTTL = config["storage_ttl"]?.doubleValue
        cacheControl = config["cache_control"]?.boolValue ?? false
        ignoreURICase = config["ignore_uri_case"]?.boolValue ?? false
        varyQueryParams = strings("vary_query_params").flatMap { $0.isEmpty ? nil : $0 }
        varyHeaders = strings("vary_headers").flatMap { $0.isEmpty ? nil : $0.map { $0.lowercased() } }
        let headers = config["response_headers"]
        sendAge = headers?["age"]?.boolValue ?? true
        sendStatus = headers?["X-Cache-Status"]?.boolValue ?? true
        sendKey = headers?["X-Cache-Key"]?.boolValue ?? true
    }

    /// `X-Cache-Status` values.
    public enum Status: UInt8, Sendable {
        case hit = 1, miss = 2, refresh = 3, bypass = 4

        public var text: String {
            switch self {
            case .hit: return "Hit"
            case .miss: return "Miss"
            case .refresh: return "Refresh"
            case .bypass: return "Bypass"
            }
        }

        public init?(code: UInt8) { self.init(rawValue: code) }
    }

    /// Whether the request may be answered from the cache or stored (Kong's `cacheable_request`):
    /// its method is configured, and with `cache_control`, it has no `no-store`/`no-cache` and no
    /// `Authorization`.
    public func isCacheable(_ head: RequestHead, _ control: CacheControl) -> Bool {
        guard methods.contains(head.methodString) else { return false }
        if cacheControl, control.has("no-store") || control.has("no-cache") || head.valueRange(forLowercasedName: Self.authorization).count > 0 {
            return false
        }
        return true
    }

    private static let authorization = Array("authorization".utf8)

    /// The cache key (Kong's `build_cache_key`): SHA-256 hex of the consumer and route, the
    /// method, the path, the query arguments (all, or `vary_query_params`, sorted) and the
    /// `vary_headers`.
    public func key(_ head: RequestHead, consumerID: String?, routeID: String) -> String {
        let prefix = consumerID.map { "\($0):\(routeID)" } ?? routeID
        var path = head.string(head.path)
        if ignoreURICase { path = path.lowercased() }
        let arguments = Self.arguments(head.string(head.query))
        let names = varyQueryParams ?? arguments.keys.sorted()
        let params = Self.joined(names, arguments)
        var headersPart = ""
        if let varyHeaders {
            var values: [String: [String]] = [:]
            for name in varyHeaders {
                let found = head.values(forLowercasedName: name)
                if !found.isEmpty { values[name] = found }
            }
            headersPart = Self.joined(varyHeaders, values)
        }
        let text = "\(prefix)|\(head.methodString)|\(path)|\(params)|\(headersPart)"
        return SHA256.hash(data: Array(text.utf8)).hexString
    }

    /// `name=v1,v2:name2=v` for the names present, values sorted (Kong's `generate_key_from`).
    static func joined(_ names: [String], _ values: [String: [String]]) -> String {
        names.compactMap { name in
            guard let list = values[name] else { return nil }
            if list == [""] { return name }
            return "\(name)=\(list.sorted().joined(separator: ","))"
        }.joined(separator: ":")
    }

    /// The query string's arguments, percent-decoded (a bare name has the value "").
    static func arguments(_ query: String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for part in query.dropFirst().split(separator: "&") where !part.isEmpty {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(pair[0])
            out[name, default: []].append(pair.count == 2 ? decode(pair[1]) : "")
        }
        return out
    }

    static func decode(_ text: Substring) -> String { PercentEncoding.decode(text) }

    /// Whether a stored response may answer this request at `now` (Kong's freshness rules): with
    /// `cache_control`, the client's `max-age`, `max-stale` and `min-fresh`; else `cache_ttl`.
    public func isFresh(_ entry: CachedResponse, request control: CacheControl, now: Double) -> Bool {
        let age = now - entry.storedAt
        if cacheControl {
            if let maxAge = control.seconds("max-age"), age > maxAge { return false }
            if let maxStale = control.seconds("max-stale"), age - entry.ttl > maxStale { return false }
            if let minFresh = control.seconds("min-fresh"), entry.ttl - age < minFresh { return false }
            // without max-stale a stale entry is not served
            if control.seconds("max-stale") == nil, age > entry.ttl { return false }
            return true
        }
        return age <= cacheTTL
    }

    /// Whether the upstream's response may be stored (Kong's `cacheable_response`), and for how
    /// long it is fresh and kept.
    public func storage(for head: ResponseHead, now: Double) -> (ttl: Double, storageTTL: Double)? {
        guard statuses.contains(head.status) else { return nil }
        let types = head.values(forLowercasedName: "content-type")
        guard types.count == 1, let type = MediaType(types[0]), contentTypes.contains(where: { $0.matches(type) }) else { return nil }
        var ttl = cacheTTL
        if cacheControl {
            let control = CacheControl(head.values(forLowercasedName: "cache-control"))
            if control.has("private") || control.has("no-store") || control.has("no-cache") { return nil }
            ttl = control.freshness(expires: head.values(forLowercasedName: "expires").last, now: now)
            if ttl <= 0 { return nil }
        }
        return (ttl, storageTTL ?? ttl)
    }
}
