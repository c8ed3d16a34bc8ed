import ArgusSnapshot
import ArgusTransport
import NIOCore

/// Settings of the proxy listener that do not come from the declarative config (kong.conf's part).
public struct ProxySettings: Sendable {
    /// Peers whose X-Forwarded-* / X-Real-IP headers are trusted (kong.conf `trusted_ips`).
    public var trustedIPs: TrustedIPs
    /// `real_ip_header` and `real_ip_recursive`: where a trusted peer's client address is read.
    public var realIP = RealIPSettings()
    /// Product token in `Via` and `Server` (Kong: `kong/3.9.0`).
    public var serverToken: String
    /// Close a client connection that sends nothing for this long (nginx `keepalive_timeout`).
    public var clientIdleTimeout: TimeAmount
    /// Upstream keep-alive pool (kong.conf `upstream_keepalive_*`).
    public var upstreamIdleTimeout: TimeAmount
    public var upstreamMaxRequestsPerConnection: Int
    public var upstreamPoolSizePerTarget: Int
    public var maxRequestLineLength: Int
    public var maxHeadLength: Int
    /// Largest request body accepted (413 past it); 0 means unlimited (nginx `client_max_body_size 0`, Kong's default).
    public var maxRequestBodySize: Int
    /// The whole request head must arrive within this long of its first byte, however slowly it
    /// trickles in (nginx `client_header_timeout`): a slowloris client gets 408 and is closed.
    public var clientHeaderTimeout: TimeAmount = .seconds(60)
    /// A TLS client must complete its handshake within this long of connecting (nginx's
    /// `ssl_handshake_timeout`).
    public var tlsHandshakeTimeout: TimeAmount = .seconds(60)
    /// The largest request body read whole when a plugin needs it (request-transformer's body
    /// operations, key-auth's `key_in_body`); a larger one gets 413.
    public var maxBufferedBodySize: Int = 8 << 20
    /// proxy-cache's memory budget (Kong's `mem_cache_size`, 128 MiB by default).
    public var proxyCacheBytes: Int = 128 << 20
    /// Events each event loop's lane of the event ring holds before a slow exporter loses its oldest.
    public var eventRingCapacity: Int = 16_384
    /// Bytes per event loop for request details (raw heads, upstream target, tries) that log sinks
    /// read beside the events; a power of two ≥ 4096. Written only for requests a log plugin applies to.
    public var eventDetailCapacity: Int = 4 << 20
    /// The share of traces started at the gateway that an `opentelemetry` instance without its own
    /// `sampling_rate` samples (kong.conf's `tracing_sampling_rate`, 0.01 by default as Kong's).
    public var tracingSamplingRate: Double = 0.01
    /// Milliseconds since the Unix epoch (UTC): the calendar the rate-limiting windows follow.
    /// Tests inject their own to cross window boundaries.
    public var wallClockMilliseconds: @Sendable () -> Int64 = WallClock.milliseconds

    public init(
        trustedIPs: TrustedIPs = TrustedIPs(), serverToken: String = "argus/0.1.0",
        clientIdleTimeout: TimeAmount = .seconds(60), upstreamIdleTimeout: TimeAmount = .seconds(60),
        upstreamMaxRequestsPerConnection: Int = 10000, upstreamPoolSizePerTarget: Int = 512,
        maxRequestLineLength: Int = 8192, maxHeadLength: Int = 32768, maxRequestBodySize: Int = 0
    ) {
        self.trustedIPs = trustedIPs
        self.serverToken = serverToken
        self.clientIdleTimeout = clientIdleTimeout
        self.upstreamIdleTimeout = upstreamIdleTimeout
        self.upstreamMaxRequestsPerConnection = upstreamMaxRequestsPerConnection
        self.upstreamPoolSizePerTarget = upstreamPoolSizePerTarget
        self.maxRequestLineLength = maxRequestLineLength
        self.maxHeadLength = maxHeadLength
        self.maxRequestBodySize = maxRequestBodySize
    }

    /// The upstream keep-alive pool's limits.
    var poolLimits: UpstreamPool.Limits {
        UpstreamPool.Limits(
            poolSizePerTarget: upstreamPoolSizePerTarget, maxRequestsPerConnection: upstreamMaxRequestsPerConnection,
            idleTimeout: upstreamIdleTimeout)
    }
}
