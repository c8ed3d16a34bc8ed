import ArgusConfig
import ArgusEvents
import ArgusStatistics
import Foundation
import NIOConcurrencyHelpers
import Synchronization

/// The log plugins (`file-log`, `http-log`, `tcp-log`, `udp-log`) as one exporter on the event
/// ring: for each request it resolves which instance of each plugin applies (Kong's scoping),
/// reads the request's details before the ring reuses them, builds Kong's record once, and hands
/// it to the file, the http sender and the socket senders. Runs on the exporter's task, never on
/// an event loop.
public final class LogExporter: EventExporter, ReportsStatistics {
    public let name = "logs"
    private let ring: EventRing
    private let config: @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig)
    private let serializer: LogSerializer
    public let fileLog: FileLogExporter
    public let httpLog: HTTPLogExporter
    public let socketLog: SocketLogExporter
    private let state = NIOLockedValueBox(State())
    /// Whether the config version of the last event seen has a file-log or http-log plugin.
    private let logging = Atomic<Bool>(true)

    /// One config version, compiled for logging: each plugin's scopes, each file-log instance's
    /// settings, which instance applies per route (when no instance is consumer-scoped), and every
    /// entity's JSON rendered once.
    final class Plan: Sendable {
        let version: UInt32
        let fileLog: PluginScopes
        let httpLog: PluginScopes
        let tcpLog: PluginScopes
        let udpLog: PluginScopes
        let syslog: PluginScopes
        /// Each syslog instance's severities and frame.
        let syslogFraming: [SyslogFraming]
        let statsd: PluginScopes
        /// Each statsd instance's metrics.
        let statsdLines: [StatsdLines]
        let datadog: PluginScopes
        let datadogLines: [DatadogLines]
        let loggly: PluginScopes
        let logglyFraming: [SyslogFraming]
        let routeService: [Int]
        let entities: EntityCache
        let fileInstances: [FileLogExporter.Instance]
        /// Per route + 1 (0: no route): the instance index that applies, -1 none; empty when an
        /// instance is consumer-scoped (then resolved per request).
        let fileByRoute: [Int32]
        let httpByRoute: [Int32]
        let tcpByRoute: [Int32]
        let udpByRoute: [Int32]
        let syslogByRoute: [Int32]
        let statsdByRoute: [Int32]
        let datadogByRoute: [Int32]
        let logglyByRoute: [Int32]

        /// Whether any log plugin is configured.
        var logs: Bool { !fileLog.isEmpty || !httpLog.isEmpty || !tcpLog.isEmpty || !udpLog.isEmpty || !syslog.isEmpty || !statsd.isEmpty
            || !datadog.isEmpty || !loggly.isEmpty
        }

        init(version: UInt32, config c: DeclarativeConfig) {
            self.version = version
            fileLog = PluginScopes(config: c, plugin: "file-log")
            httpLog = PluginScopes(config: c, plugin: "http-log")
            tcpLog = PluginScopes(config: c, plugin: "tcp-log")
            udpLog = PluginScopes(config: c, plugin: "udp-log")
            syslog = PluginScopes(config: c, plugin: "syslog")
            syslogFraming = syslog.instances.map { SyslogFraming(config: $0.config) }
            statsd = PluginScopes(config: c, plugin: "statsd")
            statsdLines = statsd.instances.map { StatsdLines(config: $0.config) }
            datadog = PluginScopes(config: c, plugin: "datadog")
            datadogLines = datadog.instances.map { DatadogLines(config: $0.config) }
            loggly = PluginScopes(config: c, plugin: "loggly")
            logglyFraming = loggly.instances.map { SyslogFraming(loggly: $0.config) }
            let routeService = c.routeServiceIndexes()
            self.routeService = routeService
            entities = EntityCache(c)
            fileInstances = fileLog.instances.map(FileLogExporter.Instance.init)
            func byRoute(_ scopes: PluginScopes) -> [Int32] {
                if scopes.hasConsumerScopes || scopes.isEmpty { return [] }
                return (-1..<routeService.count).map { r in
                    Int32(scopes.resolveIndex(route: r, service: r >= 0 ? routeService[r] : -1) ?? -1)
                }
            }
            fileByRoute = byRoute(fileLog)
            httpByRoute = byRoute(httpLog)
            tcpByRoute = byRoute(tcpLog)
            udpByRoute = byRoute(udpLog)
            syslogByRoute = byRoute(syslog)
            statsdByRoute = byRoute(statsd)
            datadogByRoute = byRoute(datadog)
            logglyByRoute = byRoute(loggly)
        }

        /// The service, route and consumer of an event, for statsd's names and tags.
        func statsdEntities(_ event: RequestEvent) -> StatsdLines.Entities {
            let config = entities.config
            func at<T>(_ list: [T], _ index: Int32) -> T? { index >= 0 && Int(index) < list.count ? list[Int(index)] : nil }
            return StatsdLines.Entities(
                service: at(config.services, event.service), route: at(config.routes, event.route), consumer: at(config.consumers, event.consumer))
        }

        /// The instance of `scopes` that applies to `event`, as an index into its instances.
        func resolve(_ scopes: PluginScopes, _ memo: [Int32], _ event: RequestEvent) -> Int? {
            if scopes.isEmpty { return nil }
            let route = Int(event.route)
            if !memo.isEmpty {
                let i = route >= -1 && route + 1 < memo.count ? memo[route + 1] : -1
                return i >= 0 ? Int(i) : nil
            }
            let service = route >= 0 && route < routeService.count ? routeService[route] : -1
            return scopes.resolveIndex(route: route, service: service, consumer: Int(event.consumer))
        }
    }

    /// Records of one batch of events, gathered per instance so that each sink is handed them at
    /// once (one lock per sink per batch, not per record).
    struct Gathered {
        var files: [(index: Int, bytes: [UInt8], records: Int, withoutDetail: Int)] = []
        var https: [(index: Int, records: [[UInt8]], withoutDetail: Int)] = []
        /// tcp-log, udp-log, syslog, loggly, statsd and datadog instances' records.
        var sockets: [(plugin: Plugin, records: [[UInt8]])] = []

        mutating func addSocket(_ plugin: Plugin, _ record: [UInt8]) {
            if let k = sockets.firstIndex(where: { $0.plugin.id == plugin.id }) {
                sockets[k].records.append(record)
            } else {
                sockets.append((plugin, [record]))
            }
        }
    }

    struct State: Sendable {
        var plans: [UInt32: Plan] = [:]
        var detail: [UInt8] = []
        let scratch = LogScratch()
    }

    public init(
        ring: EventRing, config: @escaping @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig),
        fileLog: FileLogExporter, httpLog: HTTPLogExporter, socketLog: SocketLogExporter = SocketLogExporter(),
        serializer: LogSerializer = LogSerializer()
    ) {
        self.ring = ring
        self.config = config
        self.fileLog = fileLog
        self.httpLog = httpLog
        self.socketLog = socketLog
        self.serializer = serializer
    }

    private func plan(_ version: UInt32, _ state: inout State) -> Plan {
        if let plan = state.plans[version] { return plan }
        let found = config(version)
        if state.plans.count >= 4, let oldest = state.plans.keys.min() { state.plans[oldest] = nil }
        let plan = Plan(version: version, config: found.config)
        state.plans[version] = plan
        return plan
    }

    public func receive(_ events: UnsafeBufferPointer<RequestEvent>) {
        guard let first = events.first else { return }
        state.withLockedValue { state in
            // The plan changes only when the config version does: kept in a non-optional local,
            // so that nothing is retained and released per event.
            var plan = self.plan(first.configVersion, &state)
            var gathered = Gathered()
            let scratch = state.scratch
            for event in events {
                if event.configVersion != plan.version {
                    hand(gathered, of: plan)
                    gathered = Gathered()
                    plan = self.plan(event.configVersion, &state)
                }
                let file = plan.resolve(plan.fileLog, plan.fileByRoute, event)
                let http = plan.resolve(plan.httpLog, plan.httpByRoute, event)
                let tcp = plan.resolve(plan.tcpLog, plan.tcpByRoute, event)
                let udp = plan.resolve(plan.udpLog, plan.udpByRoute, event)
                // syslog: only at a severity the instance sends (Kong's log_level)
                var syslog = plan.resolve(plan.syslog, plan.syslogByRoute, event)
                let severity = syslog.flatMap { plan.syslogFraming[$0].severity(forStatus: Int(event.status)) }
                if severity == nil { syslog = nil }
                // statsd: lines from the event alone (no record to build)
                if let statsd = plan.resolve(plan.statsd, plan.statsdByRoute, event) {
                    let lines = plan.statsdLines[statsd].lines(for: event, plan.statsdEntities(event))
                    for packet in plan.statsdLines[statsd].packets(lines) { gathered.addSocket(plan.statsd.instances[statsd], packet) }
                }
                if let datadog = plan.resolve(plan.datadog, plan.datadogByRoute, event) {
                    for line in plan.datadogLines[datadog].lines(for: event, plan.statsdEntities(event)) {
                        gathered.addSocket(plan.datadog.instances[datadog], Array(line.utf8))
                    }
                }
                var loggly = plan.resolve(plan.loggly, plan.logglyByRoute, event)
                let logglySeverity = loggly.flatMap { plan.logglyFraming[$0].severity(forStatus: Int(event.status)) }
                if logglySeverity == nil { loggly = nil }
                if file == nil && http == nil && tcp == nil && udp == nil && syslog == nil && loggly == nil { continue }
                let hasDetail = ring.detail(of: event, into: &state.detail)
                state.detail.withUnsafeBytes { encoded in
                    serializer.serialize(event, encodedDetail: hasDetail ? encoded : nil, entities: plan.entities, scratch: scratch) {
                        record, withDetail in
                        let lost = withDetail ? 0 : 1
                        if let file {
                            if let k = gathered.files.firstIndex(where: { $0.index == file }) {
                                gathered.files[k].bytes.append(contentsOf: record)
                                gathered.files[k].bytes.append(UInt8(ascii: "\n"))
                                gathered.files[k].records += 1
                                gathered.files[k].withoutDetail += lost
                            } else {
                                var bytes: [UInt8] = []
                                bytes.reserveCapacity((record.count + 1) * min(events.count, 256))
                                bytes.append(contentsOf: record)
                                bytes.append(UInt8(ascii: "\n"))
                                gathered.files.append((file, bytes, 1, lost))
                            }
                        }
                        if let tcp { gathered.addSocket(plan.tcpLog.instances[tcp], Array(record)) }
                        if let udp { gathered.addSocket(plan.udpLog.instances[udp], Array(record)) }
                        if let syslog, let severity {
                            let framed = record.withUnsafeBytes { plan.syslogFraming[syslog].frame($0, severity: severity, at: Date()) }
                            gathered.addSocket(plan.syslog.instances[syslog], framed)
                        }
                        if let loggly, let logglySeverity {
                            let framed = record.withUnsafeBytes { plan.logglyFraming[loggly].frame($0, severity: logglySeverity, at: Date()) }
                            gathered.addSocket(plan.loggly.instances[loggly], framed)
                        }
                        if let http {
                            if let k = gathered.https.firstIndex(where: { $0.index == http }) {
                                gathered.https[k].records.append(Array(record))
                                gathered.https[k].withoutDetail += lost
                            } else {
                                gathered.https.append((http, [Array(record)], lost))
                            }
                        }
                    }
                }
            }
            hand(gathered, of: plan)
            logging.store(plan.logs, ordering: .relaxed)
        }
    }

    /// 5 ms while the running config logs (a tailed file shows a request almost at once); 50 ms
    /// while it has no log plugin (nothing to write, so no reason to wake up 200 times a second).
    public var pollInterval: Duration { logging.load(ordering: .relaxed) ? .milliseconds(5) : .milliseconds(50) }

    private func hand(_ gathered: Gathered, of plan: Plan) {
        for f in gathered.files {
            fileLog.append(lines: f.bytes, records: f.records, instance: plan.fileInstances[f.index], withoutDetail: f.withoutDetail)
        }
        for h in gathered.https {
            httpLog.enqueue(h.records, plugin: plan.httpLog.instances[h.index], withoutDetail: h.withoutDetail)
        }
        for s in gathered.sockets { socketLog.enqueue(s.records, plugin: s.plugin) }
    }

    public func afterBatch() {
        fileLog.flush()
    }

    public func finish() async {
        fileLog.finish()
        await httpLog.finish()
        await socketLog.finish()
    }

    public func statistics() -> [ExporterStatistic] {
        fileLog.statistics() + httpLog.statistics() + socketLog.statistics()
    }
}

/// Every service, route and consumer of a config rendered once as Kong's entity JSON.
public final class EntityCache: Sendable {
    let services: [[UInt8]]
    let routes: [[UInt8]]
    let consumers: [[UInt8]]
    let config: DeclarativeConfig

    public init(_ config: DeclarativeConfig) {
        func render(_ value: JSONValue) -> [UInt8] {
            var w = JSONWriter(capacity: 512)
            w.value(value)
            return w.bytes
        }
        self.config = config
        services = config.services.map { render(EntityJSON.service($0)) }
        routes = config.routes.map { render(EntityJSON.route($0)) }
        consumers = config.consumers.map { render(EntityJSON.consumer($0)) }
    }
}
