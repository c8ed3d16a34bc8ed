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
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// The whole gateway as one `Service`: loads the config, binds the proxy, admin and status
/// listeners, re-reads the config on SIGHUP, and drains in-flight requests on graceful shutdown.
public final class Gateway: ServiceLifecycle.Service, Sendable {
    public struct Addresses: Sendable {
        public var proxy: SocketAddress
        public var admin: SocketAddress
        public var status: SocketAddress
    }

    public let settings: GatewaySettings
    private let logger: Logger
    /// The admin and status listeners run on their own thread, never on a proxy event loop.
    private let controlGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let prometheus: PrometheusExporter
    private let logs: LogExporter
    /// The http-log sinks' client (its own connection pool, on NIO's shared threads, not the proxy's).
    private let httpClient: HTTPClient
    private let exporters: [ExporterRunner]
    private let store: SnapshotStore
    private let proxy: ProxyServer
    private let admin = ControlServer()
    private let status = ControlServer()
    /// Reads rate-limit counters for `GET /rate-limiting/usage` (its Redis clients on the control loop).
    private let usageReader: RateLimitUsageReader
    /// Upstream targets' health (kept across reloads) and the active prober.
    private let health: HealthRegistry
    private let checker: ActiveHealthChecker
    /// Flushes `sync_rate` rate-limit counters to Redis (on the control loop).
    private let syncer: RateLimitSyncer
    private let nodeID: String
    private let started = NIOLockedValueBox(false)
    /// SIGHUP is trapped before the listeners open, so that an early SIGHUP can not kill the process.
    private let hangups = NIOLockedValueBox<UnixSignalsSequence?>(nil)
    /// The Admin API's entity store, made in `start()` (the database is opened there).
    private let adminAPI = NIOLockedValueBox<AdminAPI?>(nil)
    /// Upstream target names kept resolved (nil without a DNS server), and the configuration the
    /// snapshots are built from: a DNS change and a config change rebuild it one at a time.
    private let dns: DNSRefresher?
    private let latest: NIOLockedValueBox<DeclarativeConfig>
    /// Lets the DNS refresher reach the gateway once it exists.
    private let holderForDNS: NIOLockedValueBox<Gateway?>?
    private let rebuildLock = NIOLock()
    private let database = NIOLockedValueBox<EntityDatabase?>(nil)

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
        let health = HealthRegistry(logger: logger)
        self.health = health
        store = SnapshotStore(ConfigSnapshot(config: config, health: health))
        proxy = ProxyServer(
            workers: max(1, settings.workers), controlLoop: controlGroup.next(), store: store, settings: settings.proxy, logger: logger,
            health: health)
        checker = ActiveHealthChecker(eventLoop: controlGroup.next(), registry: health)
        usageReader = RateLimitUsageReader(counters: proxy.rateLimitCounters, eventLoop: controlGroup.next())
        latest = NIOLockedValueBox(config)
        let server: SocketAddress? = settings.dnsResolver.flatMap { try? SocketAddress(ipAddress: $0.host, port: $0.port) }
            ?? DNSClient.systemServer()
        if let server {
            let client = DNSClient(eventLoop: controlGroup.next(), server: server)
            let holder = NIOLockedValueBox<Gateway?>(nil)
            dns = DNSRefresher(resolver: TargetResolver(client: client)) { _ in holder.withLockedValue { $0 }?.rebuild() }
            holderForDNS = holder
        } else {
            dns = nil
            holderForDNS = nil
        }
        let syncer = RateLimitSyncer(
            store: proxy.syncedCounters, eventLoop: controlGroup.next(), clock: settings.proxy.wallClockMilliseconds, logger: logger)
        self.syncer = syncer
        let ring = proxy.events
        let configOf = Self.configLookup(store)
        let httpClient = HTTPLogExporter.makeClient()
        self.httpClient = httpClient
        let logs = LogExporter(
            ring: ring, config: configOf, fileLog: FileLogExporter(logger: logger),
            httpLog: HTTPLogExporter(config: configOf, client: httpClient, dataDirectory: settings.dataDirectory, logger: logger))
        self.logs = logs
        let reporters: [any ReportsStatistics] = [proxy, logs, syncer, health, ProxyCacheStatistics(store: proxy.proxyCache)]
            + extra.compactMap { $0 as? any ReportsStatistics }
        var sources = Self.metricsSources(nodeID: nodeID, store: store, proxy: proxy)
        sources.statistics = { reporters.flatMap { $0.statistics() } }
        let prometheus = PrometheusExporter(ring: ring, settings: settings.metrics, sources: sources)
        self.prometheus = prometheus
        exporters = ([prometheus, logs] + extra).map { ExporterRunner(ring: ring, exporter: $0) }
        if let path = settings.configPath {
            logger.info("configuration loaded", metadata: ["config": "\(path)", "summary": "\(config.summary)"])
        }
        holderForDNS?.withLockedValue { $0 = self }
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
        if let dns {
            // target names resolved before the first request (SRV, then A)
            _ = dns.update(names: Self.targetNames(latest.withLockedValue { $0 }))
            try? await dns.resolveAll().get()
            dns.start()
        }
        func bind(_ name: String, _ address: ListenAddress, _ body: () async throws -> SocketAddress) async throws(StartupError) -> SocketAddress {
            do {
                let bound = try await body()
                logger.info("listening", metadata: ["listener": "\(name)", "address": "\(bound)"])
                return bound
            } catch {
                throw StartupError("cannot listen on \(address) (\(name)): \(Self.describe(error))")
            }
        }
        let proxyAddress = try await bind("proxy", settings.proxyListen) {
            try await proxy.bind(host: settings.proxyListen.host, port: settings.proxyListen.port)
        }
        let adminAddress = try await bind("admin", settings.adminListen) {
            try await admin.bind(group: controlGroup, address: settings.adminListen, bodyLimit: settings.adminBodyLimit) { [self] in
                await self.adminResponse($0)
            }
        }
        let statusAddress = try await bind("status", settings.statusListen) {
            try await status.bind(group: controlGroup, address: settings.statusListen) { [self] in await self.statusResponse($0) }
        }
        started.withLockedValue { $0 = true }
        logs.httpLog.resumeSpools()
        syncer.start()
        checker.update(store.snapshot.activelyChecked)
        return Addresses(proxy: proxyAddress, admin: adminAddress, status: statusAddress)
    }

    /// Serves until graceful shutdown: re-reads the config on SIGHUP while the exporters drain the
    /// event ring. On shutdown the proxy drains first, then every exporter receives every event
    /// published before it stopped.
    public func run() async throws {
        let existing = self.hangups.withLockedValue { $0 }
        let hangups: UnixSignalsSequence
        if let existing { hangups = existing } else { hangups = await UnixSignalsSequence(trapping: .sighup) }
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await _ in hangups.cancelOnGracefulShutdown() {
                    _ = self.reload()
                }
            }
            // SIGUSR1: reopen log files now (logrotate's postrotate), as nginx does.
            let usr1 = await UnixSignalsSequence(trapping: .sigusr1)
            tasks.addTask {
                for await _ in usr1.cancelOnGracefulShutdown() {
                    self.logs.fileLog.reopenAll()
                }
            }
            for runner in exporters {
                tasks.addTask { await runner.run() }
            }
            try? await gracefulShutdown()
            await shutdown()
            for runner in exporters { runner.stop() }
            await tasks.waitForAll()
        }
        try? await httpClient.shutdown()
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
        latest.withLockedValue { $0 = config }
        rebuild()
        // target names new to DNS are resolved now; their results rebuild the snapshot again
        if let dns { _ = dns.update(names: Self.targetNames(config)) }
    }

    /// Builds the snapshot of the latest configuration with the latest DNS results and swaps it
    /// in: config changes and DNS changes, one at a time.
    fileprivate func rebuild() {
        rebuildLock.withLock {
            let config = latest.withLockedValue { $0 }
            let snapshot = ConfigSnapshot(config: config, health: health, resolved: dns?.current ?? [:])
            store.replace(with: snapshot)
            // Targets that left the configuration are forgotten; the others keep their state.
            let upstreamNames = Dictionary(config.upstreams.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            health.retain(Set(config.targets.compactMap { t in upstreamNames[t.upstreamID].map { HealthRegistry.key(upstream: $0, target: t.target) } }))
            checker.update(snapshot.activelyChecked)
        }
    }

    /// Upstream target hosts that are names, not IP addresses.
    static func targetNames(_ config: DeclarativeConfig) -> Set<String> {
        Set(config.targets.map(\.host).filter { (try? SocketAddress(ipAddress: $0, port: 0)) == nil })
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

    /// Stops accepting, drains in-flight requests (bounded by `drainTimeout`), stops the event loops.
    /// ``run()`` calls it; the exporters are flushed by ``run()`` after it.
    public func shutdown() async {
        logger.info("shutting down", metadata: ["drain_timeout_ms": "\(settings.drainTimeout.nanoseconds / 1_000_000)"])
        await admin.close()
        await status.close()
        await proxy.shutdown(drainTimeout: settings.drainTimeout)
        await usageReader.close()
        await checker.stop()
        if let dns {
            dns.stop()
            await dns.resolver.client.close()
        }
        // What the drained requests counted under sync_rate goes to Redis before the loops stop.
        await syncer.stop()
        await database.withLockedValue({ $0 })?.close()
        try? await controlGroup.shutdownGracefully()
    }

    public var proxyStats: ProxyStats { proxy.stats }

    /// The configuration requests see now.
    public var currentConfig: DeclarativeConfig { store.snapshot.config }

    /// The event ring every proxied or gateway-answered request is published on (exporters consume it).
    public var events: EventRing { proxy.events }

    // MARK: - Control endpoints

    private func adminResponse(_ request: ControlRequest) async -> ControlResponse {
        if let token = settings.adminToken, !Self.authorized(request, token: token) {
            return .json(401, "{\"message\":\"Unauthorized\"}")
        }
        let started = Date()
        var response = await adminRoute(request)
        response.headers.append(("X-Kong-Admin-Latency", String(Int(Date().timeIntervalSince(started) * 1000))))
        return response
    }

    /// `Authorization: Bearer <token>` or `Kong-Admin-Token: <token>`, compared in constant time.
    static func authorized(_ request: ControlRequest, token: String) -> Bool {
        var given = request.adminToken
        let authorization = request.authorization
        if authorization.lowercased().hasPrefix("bearer ") { given = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
        let a = Array(given.utf8)
        let b = Array(token.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<b.count { difference |= b[i] ^ (i < a.count ? a[i] : 0) }
        return difference == 0
    }

    private func adminRoute(_ request: ControlRequest) async -> ControlResponse {
        if let api = adminAPI.withLockedValue({ $0 }),
           let answer = await api.respond(AdminRequest(
               method: request.method, path: request.path, query: request.query, contentType: request.contentType, body: request.body)) {
            return ControlResponse(
                status: answer.status, contentType: "application/json; charset=utf-8", body: answer.body, headers: answer.headers)
        }
        let readOnly = request.method == "GET" || request.method == "HEAD"
        switch request.path {
        case "/":
            return readOnly ? .json(200, NodeInfo.json(nodeID: nodeID, settings: settings, config: store.snapshot.config)) : Self.methodNotAllowed
        case "/status":
            return readOnly ? .json(200, await statusJSON()) : Self.methodNotAllowed
        case "/metrics":
            return readOnly ? await metricsResponse(request) : Self.methodNotAllowed
        case let path where path == "/proxy-cache" || path.hasPrefix("/proxy-cache/"):
            return ProxyCacheEndpoint.respond(
                request, store: proxy.proxyCache, config: store.snapshot.config,
                now: Double(settings.proxy.wallClockMilliseconds()) / 1000) ?? .json(404, "{\"message\":\"Not found\"}")
        case let path where path.hasPrefix("/upstreams/"):
            return UpstreamHealthEndpoint.respond(request, snapshot: store.snapshot, registry: health, nodeID: nodeID)
                ?? .json(404, "{\"message\":\"Not found\"}")
        case "/rate-limiting/usage":
            guard readOnly else { return Self.methodNotAllowed }
            return await RateLimitUsageEndpoint.respond(
                query: request.query, config: store.snapshot.config, reader: usageReader,
                nowMs: settings.proxy.wallClockMilliseconds())
        default:
            return .json(404, "{\"message\":\"Not found\"}")
        }
    }

    static let methodNotAllowed = ControlResponse(
        status: 405, contentType: "application/json; charset=utf-8", body: Array("{\"message\":\"Method not allowed\"}".utf8),
        headers: [("Allow", "GET, HEAD")])

    private func statusResponse(_ request: ControlRequest) async -> ControlResponse {
        switch (request.method, request.path) {
        case ("GET", "/status"), ("HEAD", "/status"):
            return .json(200, await statusJSON())
        case ("GET", "/status/ready"), ("HEAD", "/status/ready"):
            return started.withLockedValue { $0 }
                ? .json(200, "{\"message\":\"ready\"}") : .json(503, "{\"message\":\"not ready\"}")
        case ("GET", "/metrics"), ("HEAD", "/metrics"):
            return await metricsResponse(request)
        default:
            return .json(404, "{\"message\":\"Not found\"}")
        }
    }

    /// `GET /metrics`: the Prometheus text exposition, gzip-compressed when the scraper accepts it.
    private func metricsResponse(_ request: ControlRequest) async -> ControlResponse {
        let body = await prometheus.render()
        let contentType = "text/plain; version=0.0.4; charset=utf-8"
        if request.acceptsGzip, let compressed = Gzip.compress(body) {
            return ControlResponse(status: 200, contentType: contentType, body: compressed,
                                   headers: [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")])
        }
        return ControlResponse(status: 200, contentType: contentType, body: body, headers: [("Vary", "Accept-Encoding")])
    }

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
                        return ArgusMetrics.TargetHealth(
                            upstream: upstream.name, target: target.target, address: "\(target.host):\(target.port)", state: state)
                    }
                }
            })
    }

    private func statusJSON() async -> String {
        let stats = proxy.stats
        let states = await proxy.connectionStates()
        let server: [String: Int] = [
            "connections_accepted": stats.connectionsAccepted, "connections_handled": stats.connectionsAccepted,
            "connections_active": stats.connectionsActive, "total_requests": stats.totalRequests,
            "connections_reading": states.reading, "connections_writing": states.writing, "connections_waiting": states.waiting,
        ]
        var body: [String: Any] = ["server": server, "configuration": ["summary": store.snapshot.config.summary]]
        if let api = adminAPI.withLockedValue({ $0 }) {
            if api.store.isDeclarative {
                body["configuration_hash"] = await api.store.configurationHash ?? String(repeating: "0", count: 32)
            } else {
                body["database"] = ["reachable": await api.store.databaseReachable()]
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
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
