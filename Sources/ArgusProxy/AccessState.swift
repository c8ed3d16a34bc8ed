import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusCache
import ArgusConfig
import ArgusEvents
import ArgusHTTP
import ArgusRateLimit
import ArgusRouting
import ArgusSnapshot
import NIOCore

/// A routed request on its way through the access phase and upstream: what it asked, what
/// matched it, and the snapshot it is served under from start to end.
struct RoutedRequest {
    let head: RequestHead
    let requestID: RequestID
    let received: NIODeadline
    let match: RouteMatch
    let routePlan: RoutePlan
    let plan: ServicePlan
    let serviceID: String
    let path: String
    let snapshot: ConfigSnapshot
}

/// What the connection knows of its client, for the plugins that look at the address.
struct ClientFacts {
    /// The peer's address as text ("0.0.0.0" when unknown).
    var ip = "0.0.0.0"
    /// The peer's address as the event encodes it.
    var address = ConnectionAddress()
    /// The peer is in `trusted_ips`: its `X-Real-IP` is believed.
    var peerTrusted = false
    /// The connection is TLS, and the port it came in on (request-termination's echo).
    var secure = false
    var listenerPort = 0

    /// The client's address as Kong's plugins see it: the peer's, or the one `real_ip_header`
    /// gives when the peer is in `trusted_ips` (``behind(_:settings:trusted:)``).
    func forwarded(_ head: RequestHead) -> (text: String, bytes: [UInt8]) {
        (ip, address.address.bytes)
    }

    /// The facts of a connection that came with a PROXY protocol header naming `source`: with
    /// `real_ip_header proxy_protocol` and a trusted peer, the client is `source` (nginx's realip).
    func behindProxyProtocol(_ source: SocketAddress?, settings: ProxySettings) -> ClientFacts {
        guard settings.realIP.header == "proxy_protocol", peerTrusted, let source, let ip = source.ipAddress else { return self }
        var facts = self
        facts.ip = ip
        facts.address = ConnectionAddress(source)
        return facts
    }

    /// The facts of one request: the client's address is the one `real_ip_header` gives, for a
    /// trusted peer (nginx's realip: Kong's `client_ip`, `X-Real-IP`, `X-Forwarded-For`,
    /// ip-restriction and rate limiting by IP all use it).
    func behind(_ head: RequestHead, settings: RealIPSettings, trusted: TrustedIPs) -> ClientFacts {
        guard peerTrusted, let real = RealIP.address(head, settings: settings, trusted: trusted) else { return self }
        var facts = self
        facts.ip = real.text
        facts.address = ConnectionAddress(bytes: real.bytes)
        return facts
    }
}

extension ClientFacts {
    /// The facts of a connection from `remote` (in an extension: the memberwise initializer stays).
    init(_ remote: SocketAddress?, settings: ProxySettings, secure: Bool, listenerPort: Int) {
        self.init(
            ip: remote?.ipAddress ?? "0.0.0.0", address: ConnectionAddress(remote), peerTrusted: settings.trustedIPs.contains(remote),
            secure: secure, listenerPort: listenerPort)
    }
}

/// What the access phase learned about the request in flight: its consumer, the edits plugins
/// make to the upstream request, the headers they add to the response.
struct AccessState {
    /// The next step of `routePlan.access` to run.
    var next = 0
    /// The consumer's index in the snapshot's config, -1 when none is known.
    var consumer: Int32 = -1
    /// The credential it authenticated with (nil for none, or the anonymous consumer).
    var credentialID: String?
    /// `X-Credential-Identifier: …` for the upstream.
    var credentialLine: [UInt8]?
    var anonymous = false
    var aclRan = false
    /// The consumer's `X-Consumer-Groups` goes upstream.
    var sendGroups = false
    /// What `hide_credentials` removes from the upstream request.
    var edits = CredentialEdits()
    /// Header lines plugins add to the client response (cors, correlation-id, rate limiting).
    var responseHeaders: ByteBuffer?
    /// cors answered for the response (not a preflight): the upstream headers it owns (its
    /// `Access-Control-Allow-Origin` is the plugin's to set or clear).
    var corsOwned: [String]?
    /// correlation-id's value (kept from the request, or generated), for the log record.
    var correlationID: String?
    /// correlation-id's header for the upstream, when the request had none.
    var correlationLine: String?
    /// The trace context injected upstream (`Name: value\r\n` lines), and the client headers it
    /// replaces or `propagation.clear` removes (lower-case).
    var traceLines: [UInt8]?
    var traceRemove: [String] = []
    /// request-size-limiting's limit on a chunked body.
    var bodyLimit: Int?
    /// consistent-hashing's key (kept for retries).
    var hashKey: String?
    /// request-transformer's changes to the upstream request.
    var rewrite: RequestTransformerPlan.Rewrite?
    /// response-transformer's instance, for the response head.
    var responseTransformer: ResponseTransformerPlan?
    /// response-ratelimiting's instance and what the access phase read, for the response head.
    var responseLimits: ResponseLimitState?
    /// proxy-cache's decision for a request that goes upstream (Miss or Refresh).
    var cache: CacheState?
    /// The request body, read whole because a plugin needs it (nil: it streams as usual).
    var body: ByteBuffer?
    var bodyRead = false
    /// The body as `kong.request.get_body()` parses it, once key-auth asked.
    var parsedBody: RequestBody?

    /// Adds response header lines.
    mutating func addResponseHeaders(_ headers: [(String, String)]) {
        guard !headers.isEmpty else { return }
        if responseHeaders == nil { responseHeaders = ByteBuffer() }
        for (name, value) in headers { Self.writeLine(name, value, into: &responseHeaders!) }
    }

    static func writeLine(_ name: String, _ value: String, into out: inout ByteBuffer) {
        out.writeString(name)
        out.writeStaticString(": ")
        out.writeString(value)
        out.writeStaticString("\r\n")
    }

    /// The consumer's id, when one is known.
    func consumerID(_ snapshot: ConfigSnapshot) -> String? {
        let consumers = snapshot.access.directory.consumers
        return consumer >= 0 && Int(consumer) < consumers.count ? consumers[Int(consumer)].id : nil
    }
}

/// What proxy-cache decided in the access phase for a request that goes upstream.
struct CacheState {
    let plan: ProxyCachePlan
    let key: String
    var status: ProxyCachePlan.Status
    /// The request has a `Kong-Debug` header (any value): `X-Cache-Status`, `X-Cache-Key` and
    /// `Age` go out even where `response_headers` turns them off (Kong's proxy-cache).
    var debug = false
    /// This request fetches the key for every request waiting on it (ends when released).
    var fetch: CacheFetch?
}

/// A `response-ratelimiting` instance's reading of its limits for one request (Kong's
/// `kong.ctx.plugin.usage`, `identifier`, `current_timestamp`).
struct ResponseLimitState {
    let plan: ResponseRateLimitPlan
    let identifier: String
    let nowMs: Int64
    let usage: ResponseRateLimitPlan.Usage
}
