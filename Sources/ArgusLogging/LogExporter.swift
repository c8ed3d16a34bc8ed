import ArgusConfig
import ArgusEvents
import NIOConcurrencyHelpers

/// The log plugins (`file-log`, `http-log`) as one exporter on the event ring: for each request it
/// resolves which instance of each plugin applies (Kong's scoping), reads the request's details
/// before the ring reuses them, builds Kong's record once, and hands it to the file and/or the
/// http sender. Runs on the exporter's task, never on an event loop.
public final class LogExporter: EventExporter, ReportsStatistics {
    public let name = "logs"
    private let ring: EventRing
    private let config: @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig)
    private let serializer: LogSerializer
    public let fileLog: FileLogExporter
    public let httpLog: HTTPLogExporter
    private let state = NIOLockedValueBox(State())

    /// One config version, compiled for logging: each plugin's scopes, and every entity's JSON
    /// rendered once.
    struct Plan: Sendable {
        let config: DeclarativeConfig
        let fileLog: PluginScopes
        let httpLog: PluginScopes
        let routeService: [Int]
        let entities: EntityCache
    }

    struct State: Sendable {
        var plans: [UInt32: Plan] = [:]
        var detail: [UInt8] = []
    }

    public init(
        ring: EventRing, config: @escaping @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig),
        fileLog: FileLogExporter, httpLog: HTTPLogExporter, serializer: LogSerializer = LogSerializer()
    ) {
        self.ring = ring
        self.config = config
        self.fileLog = fileLog
        self.httpLog = httpLog
        self.serializer = serializer
    }

    public func receive(_ events: UnsafeBufferPointer<RequestEvent>) {
        state.withLockedValue { state in
            for event in events {
                let version = event.configVersion
                if state.plans[version] == nil {
                    let found = config(version)
                    if state.plans.count >= 4, let oldest = state.plans.keys.min() { state.plans[oldest] = nil }
                    let c = found.config
                    state.plans[version] = Plan(
                        config: c, fileLog: PluginScopes(config: c, plugin: "file-log"), httpLog: PluginScopes(config: c, plugin: "http-log"),
                        routeService: c.routeServiceIndexes(), entities: EntityCache(c))
                }
                let plan = state.plans[version]!
                if plan.fileLog.isEmpty && plan.httpLog.isEmpty { continue }
                let route = Int(event.route)
                let service = route >= 0 && route < plan.routeService.count ? plan.routeService[route] : -1
                let consumer = Int(event.consumer)
                let file = plan.fileLog.isEmpty ? nil : plan.fileLog.resolve(route: route, service: service, consumer: consumer)
                let http = plan.httpLog.isEmpty ? nil : plan.httpLog.resolve(route: route, service: service, consumer: consumer)
                if file == nil && http == nil { continue }
                var detail: RequestDetail?
                if ring.detail(of: event, into: &state.detail) { detail = RequestDetail.decode(state.detail) }
                let record = serializer.serialize(event, detail: detail, entities: plan.entities)
                if let file { fileLog.append(record, plugin: file, withoutDetail: detail == nil) }
                if let http { httpLog.enqueue(record, plugin: http, withoutDetail: detail == nil) }
            }
        }
    }

    public func afterBatch() async {
        fileLog.flush()
    }

    public func finish() async {
        fileLog.finish()
        await httpLog.finish()
    }

    public func statistics() -> [ExporterStatistic] {
        fileLog.statistics() + httpLog.statistics()
    }
}

/// Every service, route and consumer of a config rendered once as Kong's entity JSON.
final class EntityCache: Sendable {
    let services: [[UInt8]]
    let routes: [[UInt8]]
    let consumers: [[UInt8]]
    let config: DeclarativeConfig

    init(_ config: DeclarativeConfig) {
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
