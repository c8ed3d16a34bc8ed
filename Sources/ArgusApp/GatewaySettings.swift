import ArgusMetrics
import ArgusProxy
import NIOCore

/// Everything `argus start` is told: listeners, config file, data directory, workers.
public struct GatewaySettings: Sendable {
    /// The declarative config file; nil runs the embedded default (no routes: every request gets 404).
    public var configPath: String?
    public var proxyListen: ListenAddress
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

    public init(
        configPath: String? = nil, proxyListen: ListenAddress = .init(host: "0.0.0.0", port: 8000),
        adminListen: ListenAddress = .init(host: "127.0.0.1", port: 8001),
        statusListen: ListenAddress = .init(host: "127.0.0.1", port: 8100), dataDirectory: String = "./argus-data",
        workers: Int = System.coreCount, proxy: ProxySettings = ProxySettings(), drainTimeout: TimeAmount = .seconds(30)
    ) {
        self.configPath = configPath
        self.proxyListen = proxyListen
        self.adminListen = adminListen
        self.statusListen = statusListen
        self.dataDirectory = dataDirectory
        self.workers = workers
        self.proxy = proxy
        self.drainTimeout = drainTimeout
    }
}
