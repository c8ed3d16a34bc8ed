import NIOSSL
import ArgusTransport
import ArgusAdmin
import ArgusCache
import ArgusCompression
import ArgusConfig
import ArgusDNS
import ArgusEvents
import ArgusHealth
import ArgusLogging
import ArgusMetrics
import ArgusProxy
import ArgusRateLimit
import ArgusSnapshot
import ArgusStatistics
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// The whole gateway as one `Service`: loads the config and binds the proxy, admin and status
/// listeners (`start()`), then runs its parts as a `ServiceGroup` (`run()`; see
/// `GatewayServices.swift`) that re-reads the config on SIGHUP and, on graceful shutdown, stops
/// them in order: listeners, the proxy's drain, the exporters' last events, the control plane.
public final class Gateway: ServiceLifecycle.Service, Sendable {
    public struct Addresses: Sendable {
        public var proxy: SocketAddress
        public var admin: SocketAddress
        public var status: SocketAddress
        /// Every proxy listener, in the order configured (the first is `proxy`).
        public var proxyListeners: [SocketAddress] = []
        /// The first proxy listener with `ssl`, if any.
        public var proxyTLS: SocketAddress?
    }

    public let settings: GatewaySettings
    let logger: Logger
    /// The admin and status listeners run on their own thread, never on a proxy event loop.
    private let controlGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let prometheus: PrometheusExporter
    private let logs: LogExporter
    private let traces: TraceExporter
    /// The http-log sinks' client (its own connection pool, on the control plane's loop, never a proxy loop).
    private let httpClient: HTTPClient
    private let exporters: [ExporterRunner]
    let proxy: ProxyServer
    /// The configuration (file, Admin API) and DNS results, compiled into the snapshot requests see.
    private let builder: SnapshotBuilder
    var store: SnapshotStore { builder.store }
    private let admin = ControlServer()
    private let status = ControlServer()
    /// Reads rate-limit counters for `GET /rate-limiting/usage` (its Redis clients on the control loop).
    let usageReader: RateLimitUsageReader
    /// Upstream targets' health (kept across reloads).
    var health: HealthRegistry { builder.health }
    /// Flushes `sync_rate` rate-limit counters to Redis (on the control loop).
    private let syncer: RateLimitSyncer
    let nodeID: String
    let started = NIOLockedValueBox(false)
    /// SIGHUP is trapped before the listeners open, so that an early SIGHUP can not kill the process.
    private let hangups = NIOLockedValueBox<UnixSignalsSequence?>(nil)
    /// The Admin API's entity store, made in `start()` (the database is opened there).
    let adminAPI = NIOLockedValueBox<AdminAPI?>(nil)
    private let database = NIOLockedValueBox<EntityDatabase?>(nil)
    /// What TLS listeners serve when no SNI matches (nil: no TLS listener).
    let defaultCertificate: ServerCertificate?

    /// Loads and validates the config; throws `StartupError` with the reason when it can not.
    /// `exporters` are drained from the event ring next to the built-in Prometheus exporter.
    public init(settings: GatewaySettings, logger: Logger, exporters extra: [any EventExporter] = []) throws(StartupError) {
        self.settings = settings
        self.logger = logger
        let config: DeclarativeConfig
        if let path = settings.configPath {
            do {
                config = try ConfigLoader.load(file: path)
            } catch {
                throw StartupError("invalid configuration:\n\(error.description)")
            }
        } else {
            config = .empty
        }
        do {
            try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw StartupError("cannot create data directory '\(settings.dataDirectory)': \(error.localizedDescription)")
        }
        nodeID = Self.loadNodeID(dataDirectory: settings.dataDirectory)
        TLSClientContexts.shared.setTrustedCAs(settings.trustedCAs)
        // TLS listeners serve the configured certificates by SNI, and this one otherwise.
        var defaultCertificate: ServerCertificate?
        if settings.proxyListeners.contains(where: \.ssl) || settings.adminListen.ssl || settings.statusListen.ssl {
            defaultCertificate = try DefaultCertificate.load(
                certFile: settings.sslCertificate?.cert, keyFile: settings.sslCertificate?.key, dataDirectory: settings.dataDirectory,
                contexts: .shared)
        }
        self.defaultCertificate = defaultCertificate
        let health = HealthRegistry(logger: logger)
        let server: SocketAddress? = settings.dnsResolver.flatMap { try? SocketAddress(ipAddress: $0.host, port: $0.port) }
            ?? DNSClient.systemServer()
        let controlLoop = controlGroup.next()
        builder = SnapshotBuilder(
            config: config, defaultCertificate: defaultCertificate, health: health, checker: ActiveHealthChecker(eventLoop: controlLoop, registry: health),
            dnsClient: server.map { DNSClient(eventLoop: controlLoop, server: $0) })
        let store = builder.store
        proxy = ProxyServer(
            workers: max(1, settings.workers), controlLoop: controlGroup.next(), store: store, settings: settings.proxy, logger: logger,
            health: health)
        usageReader = RateLimitUsageReader(counters: proxy.rateLimitCounters, eventLoop: controlGroup.next())
        let syncer = RateLimitSyncer(
            store: proxy.syncedCounters, eventLoop: controlGroup.next(), clock: settings.proxy.wallClockMilliseconds, logger: logger)
        self.syncer = syncer
        let ring = proxy.events
        let configOf = Self.configLookup(store)
        let httpClient = HTTPLogExporter.makeClient(on: controlGroup)
        self.httpClient = httpClient
        let logs = LogExporter(
            ring: ring, config: configOf, fileLog: FileLogExporter(logger: logger),
            httpLog: HTTPLogExporter(config: configOf, client: httpClient, dataDirectory: settings.dataDirectory, logger: logger),
            socketLog: SocketLogExporter(group: controlGroup, syslogAddress: settings.syslogAddress))
        self.logs = logs
        let traces = TraceExporter(
            ring: ring, config: configOf, client: httpClient, dataDirectory: settings.dataDirectory, nodeID: nodeID, version: NodeInfo.version,
            logger: logger)
        self.traces = traces
        let responseLimits = ResponseLimitCounter(
            ring: ring, store: proxy.responseCounters, config: configOf, eventLoop: controlGroup.next(), logger: logger)
        let reporters: [any ReportsStatistics] = [
            proxy, logs, traces, responseLimits, syncer, health, ProxyCacheStatistics(store: proxy.proxyCache),
        ]
            + extra.compactMap { $0 as? any ReportsStatistics }
        var sources = Self.metricsSources(nodeID: nodeID, store: store, proxy: proxy)
        sources.statistics = { reporters.flatMap { $0.statistics() } }
        let prometheus = PrometheusExporter(ring: ring, settings: settings.metrics, sources: sources)
        self.prometheus = prometheus
        exporters = ([prometheus, logs, traces, responseLimits] + extra).map { ExporterRunner(ring: ring, exporter: $0) }
        Self.warnOfExpiredCertificates(config, logger: logger)
        if let path = settings.configPath {
            logger.info("configuration loaded", metadata: ["config": "\(path)", "summary": "\(config.summary)"])
        }
    }

    /// Binds every listener. Throws `StartupError` (e.g. port in use) naming the listener.
    @discardableResult
    public func start() async throws(StartupError) -> Addresses {
        let trapped = await UnixSignalsSequence(trapping: .sighup)
        hangups.withLockedValue { $0 = trapped }
        if settings.adminToken == nil, !Self.isLoopback(settings.adminListen.host) {
            throw StartupError(
                "refusing to expose the Admin API on \(settings.adminListen) without --admin-token (or ARGUS_ADMIN_TOKEN); bind it to 127.0.0.1 or set a token")
        }
        try await openEntityStore()
        // target and service host names resolved before the first request (SRV, then A)
        await builder.start()
        func bind(_ name: String, _ address: ListenAddress, _ body: () async throws -> SocketAddress) async throws(StartupError) -> SocketAddress {
            do {
                let bound = try await body()
                logger.info("listening", metadata: ["listener": "\(name)", "address": "\(bound)"])
                return bound
            } catch {
                throw StartupError("cannot listen on \(address) (\(name)): \(Self.describe(error))")
            }
        }
        var proxyAddresses: [SocketAddress] = []
        var proxyTLS: SocketAddress?
        for listener in settings.proxyListeners {
            let bound = try await bind("proxy", listener) {
                try await proxy.bind(
                    host: listener.host, port: listener.port, tls: listener.ssl, http2: listener.http2, proxyProtocol: listener.proxyProtocol)
            }
            proxyAddresses.append(bound)
            if listener.ssl && proxyTLS == nil { proxyTLS = bound }
        }
        let controlTLS = defaultCertificate.map { $0.context(for: ClientHello()) }
        let adminAddress = try await bind("admin", settings.adminListen) {
            try await admin.bind(
                group: controlGroup, address: settings.adminListen, tls: settings.adminListen.ssl ? controlTLS : nil,
                bodyLimit: settings.adminBodyLimit
            ) { [self] in
                await self.adminResponse($0)
            }
        }
        let statusAddress = try await bind("status", settings.statusListen) {
            try await status.bind(group: controlGroup, address: settings.statusListen, tls: settings.statusListen.ssl ? controlTLS : nil) {
                [self] in await self.statusResponse($0)
            }
        }
        started.withLockedValue { $0 = true }
        logs.httpLog.resumeSpools()
        traces.resumeSpools()
        syncer.start()
        return Addresses(
            proxy: proxyAddresses[0], admin: adminAddress, status: statusAddress, proxyListeners: proxyAddresses, proxyTLS: proxyTLS)
    }

    /// Serves until graceful shutdown: the gateway's parts as one `ServiceGroup`, shut down in the
    /// reverse of their order here (see `GatewayServices.swift`).
    public func run() async throws {
        let existing = self.hangups.withLockedValue { $0 }
        let hangups: UnixSignalsSequence
        if let existing { hangups = existing } else { hangups = await UnixSignalsSequence(trapping: .sighup) }
        let services: [any ServiceLifecycle.Service] = [
            ControlPlaneService { [self] in await stopControlPlane() },
            ExportersService(runners: exporters),
            ProxyService(proxy: proxy, drainTimeout: settings.drainTimeout, logger: logger),
            ControlListenersService(listeners: [admin, status]),
            SignalsService(hangups: hangups, reload: { [self] in _ = reload() }, reopenLogs: { [self] in logs.fileLog.reopenAll() }),
        ]
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        try await group.run()
        logger.info("stopped")
    }

    /// Re-reads the config file. A valid file replaces the running configuration atomically (requests
    /// in flight finish on the old one); an invalid one is rejected and the old one keeps serving.
    @discardableResult
    public func reload() -> Bool {
        guard let path = settings.configPath else {
            logger.notice("reload requested but no config file was given; nothing to do")
            return false
        }
        do {
            let config = try ConfigLoader.load(file: path)
            apply(config)
            if let api = adminAPI.withLockedValue({ $0 }) {
                let hash = Self.hash(of: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
                Task { await api.store.adopt(config, hash: hash) }
            }
            logger.notice("configuration reloaded", metadata: ["config": "\(path)", "summary": "\(config.summary)"])
            return true
        } catch {
            for problem in error.errors {
                logger.error("configuration rejected, keeping the running one", metadata: ["error": "\(problem)"])
            }
            return false
        }
    }

    /// Makes `config` the one requests see from the next request on (requests in flight finish on
    /// theirs): a SIGHUP reload, an Admin API change, `POST /config`.
    private func apply(_ config: DeclarativeConfig) {
        builder.apply(config)
        Self.warnOfExpiredCertificates(config, logger: logger)
    }

    /// An expired certificate is served anyway, as Kong serves it, with a warning.
    static func warnOfExpiredCertificates(_ config: DeclarativeConfig, logger: Logger) {
        let now = Int(Date().timeIntervalSince1970)
        for certificate in config.certificates {
            guard let leaf = try? NIOSSLCertificate.fromPEMBytes(Array(certificate.cert.utf8)).first, Int(leaf.notValidAfter) < now else { continue }
            let names = config.snis.filter { $0.certificateID == certificate.id }.map(\.name)
            logger.warning(
                "certificate has expired, serving it anyway",
                metadata: ["certificate": "\(certificate.id)", "snis": "\(names.joined(separator: ","))", "not_after": "\(leaf.notValidAfter)"])
        }
    }

    /// With `--config`: DB-less, the file is the truth. Without: the embedded SQLite database in
    /// the data directory, loaded here (an unreadable or invalid one stops the start).
    private func openEntityStore() async throws(StartupError) {
        let publish: @Sendable (DeclarativeConfig) -> Void = { [self] config in
            apply(config)
            logger.notice("configuration changed through the Admin API", metadata: ["summary": "\(config.summary)"])
        }
        if let path = settings.configPath {
            let hash = Self.hash(of: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
            let entityStore = EntityStore(config: store.snapshot.config, mode: .declarative, configurationHash: hash, publish: publish)
            adminAPI.withLockedValue { $0 = AdminAPI(store: entityStore) }
            return
        }
        let path = settings.dataDirectory + "/argus.db"
        let db: EntityDatabase
        let document: JSONValue
        do {
            db = try await EntityDatabase.open(path: path, logger: logger)
            document = try await db.document()
        } catch {
            throw StartupError(error.description)
        }
        let result = ConfigLoader.build(document: document, now: Date().timeIntervalSince1970)
        guard let config = result.config else {
            await db.close()
            throw StartupError("invalid configuration in database '\(path)':\n" + result.errors.map(\.description).joined(separator: "\n"))
        }
        apply(config)
        database.withLockedValue { $0 = db }
        adminAPI.withLockedValue { $0 = AdminAPI(store: EntityStore(config: config, mode: .database(db), publish: publish)) }
        logger.info("configuration loaded", metadata: ["database": "\(path)", "summary": "\(config.summary)"])
    }

    static func hash(of text: String) -> String {
        Insecure.MD5.hash(data: Array(text.utf8)).hexString
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The control plane's part of shutdown, once the proxy drained and the exporters delivered
    /// its last events.
    private func stopControlPlane() async {
        await usageReader.close()
        await builder.checker.stop()
        await builder.stop()
        // What the drained requests counted under sync_rate goes to Redis before the loops stop.
        await syncer.stop()
        await database.withLockedValue({ $0 })?.close()
        try? await httpClient.shutdown()
        try? await controlGroup.shutdownGracefully()
    }

    public var proxyStats: ProxyStats { proxy.stats }

    /// The configuration requests see now.
    public var currentConfig: DeclarativeConfig { store.snapshot.config }

    /// The event ring every proxied or gateway-answered request is published on (exporters consume it).
    public var events: EventRing { proxy.events }

    /// The config an event's version refers to (the current one for `UInt32.max` or a version no
    /// longer kept), for the exporters.
    private static func configLookup(_ store: SnapshotStore) -> @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig) {
        { version in
            let snapshot = version == UInt32.max ? store.snapshot : store.snapshot(version: Int(version))
            return (UInt32(truncatingIfNeeded: snapshot.version), snapshot.config)
        }
    }

    /// What the Prometheus exporter reads from the gateway.
    private static func metricsSources(nodeID: String, store: SnapshotStore, proxy: ProxyServer) -> MetricsSources {
        MetricsSources(
            nodeID: nodeID, version: NodeInfo.version,
            config: configLookup(store),
            connections: {
                let states = await proxy.connectionStates()
                let stats = proxy.stats
                var gauges = ConnectionGauges()
                gauges.accepted = stats.connectionsAccepted
                gauges.handled = stats.connectionsAccepted
                gauges.active = stats.connectionsActive
                gauges.reading = states.reading
                gauges.writing = states.writing
                gauges.waiting = states.waiting
                gauges.requests = stats.totalRequests
                return gauges
            },
            targets: { config in
                // The health checks' view, from the snapshot now serving.
                let snapshot = store.snapshot
                return config.upstreams.flatMap { upstream in
                    config.targets.filter { $0.upstreamID == upstream.id }.map { target in
                        let state: ArgusMetrics.TargetHealth.State
                        switch snapshot.healthState(upstream: upstream.name, target: target.target) {
                        case "healthy": state = .healthy
                        case "unhealthy": state = .unhealthy
                        case "dns_error": state = .dnsError
                        default: state = .healthchecksOff
                        }
                        // a name that did not resolve has no address (Kong's exporter writes "")
                        return ArgusMetrics.TargetHealth(
                            upstream: upstream.name, target: target.target,
                            address: state == .dnsError ? "" : "\(target.host):\(target.port)", state: state)
                    }
                }
            })
    }

    private static func loadNodeID(dataDirectory: String) -> String {
        let path = dataDirectory + "/node_id"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8), UUID(uuidString: existing.trimmingCharacters(in: .whitespacesAndNewlines)) != nil {
            return existing.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        }
        let id = UUID().uuidString.lowercased()
        try? id.write(toFile: path, atomically: true, encoding: .utf8)
        return id
    }

    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return io.description }
        return "\(error)"
    }
}
