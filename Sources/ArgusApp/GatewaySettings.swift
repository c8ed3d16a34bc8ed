import ArgusLogging
import ArgusMetrics
import ArgusProxy
import ArgusTransport
import NIOCore

/// Everything `argus start` is told: listeners, config file, data directory, workers.
public struct GatewaySettings: Sendable {
    /// The declarative config file (DB-less mode); nil keeps entities in the embedded SQLite database
    /// `argus.db` in the data directory, changed through the Admin API (empty at first: every request gets 404).
    public var configPath: String?
    /// The proxy's listeners (Kong's `proxy_listen`; `ssl` ones terminate TLS).
    public var proxyListeners: [ListenAddress]
    /// The first proxy listener.
    public var proxyListen: ListenAddress {
        get { proxyListeners.first ?? ListenAddress(host: "0.0.0.0", port: 8000) }
        set { proxyListeners = [newValue] + proxyListeners.dropFirst() }
    }
    /// The default certificate of TLS listeners (Kong's `ssl_cert`/`ssl_cert_key`); nil: a
    /// self-signed pair kept in the data directory.
    public var sslCertificate: (cert: String, key: String)?
    /// The CAs verification trusts without CA certificates of its own (Kong's `lua_ssl_trusted_certificate`).
    public var trustedCAs = TrustedCAs.systemRoots
    public var adminListen: ListenAddress
    public var statusListen: ListenAddress
    public var dataDirectory: String
    /// Event loops (threads); default: one per core.
    public var workers: Int
    public var proxy: ProxySettings
    /// How long SIGTERM waits for in-flight requests before closing what is left.
    public var drainTimeout: TimeAmount
    /// Label budgets of the Prometheus exporter.
    public var metrics = MetricsSettings()
    /// Required on every Admin API request (`Authorization: Bearer …` or `Kong-Admin-Token`)
    /// when set; without it the Admin API only binds to a loopback address.
    public var adminToken: String?
    /// Where the syslog plugin writes: a local datagram socket (`/dev/log`, as Kong's syslog(3)),
    /// or `udp://host:port` for a remote syslog server (RFC 5424 either way).
    public var syslogAddress = SyslogAddress.local(path: "/dev/log")
    /// Admin API request bodies larger than this get 413.
    public var adminBodyLimit = 10 * 1024 * 1024
    /// The DNS server for upstream target names (Kong's `dns_resolver`); nil: the first
    /// `nameserver` of /etc/resolv.conf.
    public var dnsResolver: ListenAddress?

    public init(
        configPath: String? = nil, proxyListen: ListenAddress = .init(host: "0.0.0.0", port: 8000),
        adminListen: ListenAddress = .init(host: "127.0.0.1", port: 8001),
        statusListen: ListenAddress = .init(host: "127.0.0.1", port: 8100), dataDirectory: String = "./argus-data",
        workers: Int = System.coreCount, proxy: ProxySettings = ProxySettings(), drainTimeout: TimeAmount = .seconds(30)
    ) {
        self.configPath = configPath
        self.proxyListeners = [proxyListen]
        self.adminListen = adminListen
        self.statusListen = statusListen
        self.dataDirectory = dataDirectory
        self.workers = workers
        self.proxy = proxy
        self.drainTimeout = drainTimeout
    }
}
