import ArgusConfig
import ArgusEvents
import ArgusStatistics
import AsyncHTTPClient
import Logging
import NIOCore
import NIOSSL
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// The `http-log` plugin's senders: every record ``LogExporter`` routes to an instance goes to that
/// instance's ``HTTPLogSink`` (one per instance, each with its own sender and spool, so a dead
/// endpoint never delays another).
///
/// Spools live in `<data dir>/spool/http-log/<plugin id>/`. At start, the spools of the configured
/// instances are replayed at once, whether or not traffic arrives.
public final class HTTPLogExporter: ReportsStatistics {
    private let config: @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig)
    private let client: HTTPClient
    private let spoolRoot: String
    private let logger: Logger
    /// How long a stopping sink keeps delivering before leaving the rest in its spool.
    public let shutdownGrace: Duration
    private let state = NIOLockedValueBox(State())

    struct State: Sendable {
        var sinks: [String: HTTPLogSink] = [:]
        /// The config each sink was made or last updated with.
        var configs: [String: JSONValue] = [:]
        var tasks: [Task<Void, Never>] = []
        var withoutDetail: UInt64 = 0
    }

    public init(
        config: @escaping @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig),
        client: HTTPClient, dataDirectory: String, shutdownGrace: Duration = .seconds(5), logger: Logger
    ) {
        self.shutdownGrace = shutdownGrace
        self.config = config
        self.client = client
        self.spoolRoot = dataDirectory + "/spool/http-log"
        self.logger = logger
    }

    /// The client the sinks share: keep-alive connections (idle for up to 60 s), on NIO's shared
    /// threads (not the proxy's event loops); like Kong, the log server's certificate is not verified.
    /// - Parameter group: the control plane's loops (NIO's shared ones when nil).
    public static func makeClient(on group: (any EventLoopGroup)? = nil) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.idleTimeout = .seconds(60)
        configuration.timeout.connect = .seconds(5)
        // A refused or failed connection fails the batch at once (it is retried with the plugin's backoff
        // and goes to the spool), instead of being retried inside the client until the request times out.
        configuration.connectionPool.retryConnectionEstablishment = false
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        configuration.tlsConfiguration = tls
        if let group { return HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration) }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Starts a sink for every configured instance that has records in its spool.
    public func resumeSpools() {
        let current = config(UInt32.max).config
        let configured = Set(current.plugins.filter { $0.name == "http-log" && $0.runsOnHTTP }.map(\.id))
        for id in Spool.existing(in: spoolRoot) {
            if let plugin = current.plugins.first(where: { $0.id == id }), configured.contains(id) {
                state.withLockedValue { state in _ = sink(for: plugin, &state) }
            } else {
                logger.warning("http-log: a spool of an instance that is no longer configured is kept, not sent",
                               metadata: ["path": "\(spoolRoot)/\(id)"])
            }
        }
    }

    private func sink(for plugin: Plugin, _ state: inout State) -> HTTPLogSink {
        if let existing = state.sinks[plugin.id] {
            // the instance was changed (Admin API, reload): its sink takes the new config
            if state.configs[plugin.id] != plugin.config {
                existing.update(HTTPLogEndpoint(plugin.config))
                state.configs[plugin.id] = plugin.config
            }
            return existing
        }
        state.configs[plugin.id] = plugin.config
        let sink = HTTPLogSink(
            id: plugin.instanceName ?? plugin.id, endpoint: HTTPLogEndpoint(plugin.config), client: client,
            spoolDirectory: spoolRoot + "/" + plugin.id, logger: logger)
        state.sinks[plugin.id] = sink
        state.tasks.append(Task { await sink.run() })
        return sink
    }

    /// Queues `records` for the `http-log` instance `plugin` (never waits for the network).
    func enqueue(_ records: [[UInt8]], plugin: Plugin, withoutDetail: Int) {
        let sink = state.withLockedValue { state in
            state.withoutDetail += UInt64(withoutDetail)
            return self.sink(for: plugin, &state)
        }
        sink.enqueue(records)
    }

    func finish() async {
        let (sinks, tasks) = state.withLockedValue { ($0.sinks.values.map { $0 }, $0.tasks) }
        for sink in sinks { sink.stop(grace: shutdownGrace) }
        for task in tasks { await task.value }
    }

    public func statistics() -> [ExporterStatistic] {
        let (sinks, withoutDetail) = state.withLockedValue { ($0.sinks.values.map { $0 }, $0.withoutDetail) }
        var out = sinks.sorted { $0.id < $1.id }.flatMap { $0.statistics() }
        if !sinks.isEmpty {
            out.append(.init(family: "argus_log_records_total", kind: .counter, help: "Log records by sink and outcome",
                             labels: [.init("sink", "http-log"), .init("instance", ""), .init("destination", ""), .init("outcome", "without_detail")],
                             value: Double(withoutDetail)))
        }
        return out
    }
}

extension Spool {
    /// Names of the spool directories under `root` (plugin ids).
    static func existing(in root: String) -> [String] {
        guard let dir = opendir(root) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in String(cString: raw.bindMemory(to: CChar.self).baseAddress!) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }
}
