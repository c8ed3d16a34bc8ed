import ArgusConfig
import ArgusEvents
import ArgusStatistics
import ArgusTracing
import AsyncHTTPClient
import Logging
import NIOConcurrencyHelpers
import Synchronization

/// The `opentelemetry` plugin's exporter on the event ring: for each traced request it reads the
/// ids the request path chose (in the request's details), writes the spans of a sampled request
/// (``SpanEncoder``) and, for an instance with a `logs_endpoint`, the request's log record
/// (``LogRecordEncoder``), and hands them to the instance's OTLP/HTTP senders. The senders are
/// http-log's (``HTTPLogSink``): the same memory queue, retries and disk spool, so an accepted span
/// is never silently lost and every drop is counted. Runs on the exporter's task, never on an
/// event loop.
public final class TraceExporter: EventExporter, ReportsStatistics {
    public let name = "traces"
    private let ring: EventRing
    private let config: @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig)
    private let client: HTTPClient
    private let spoolRoot: String
    private let logger: Logger
    private let resourceDefaults: [(String, String)]
    private let shutdownGrace: Duration
    private let serializer = LogSerializer()
    private let clock = WallClock()
    private let state = NIOLockedValueBox(State())
    /// Whether the config version of the last event seen has an `opentelemetry` instance.
    private let tracing = Atomic<Bool>(true)

    /// One config version: the `opentelemetry` instances by their index in `plugins`, each
    /// route's first path (Kong's `http.route`), the entities for log records.
    final class Plan: Sendable {
        let version: UInt32
        let tracing: [Int16: Instance]
        let routePaths: [String?]
        /// Each plugin's span event name (`kong.access.plugin.<name>`), by its index in `plugins`.
        let pluginEvents: [String]
        let entities: EntityCache

        init(version: UInt32, config: DeclarativeConfig) {
            self.version = version
            var tracing: [Int16: Instance] = [:]
            for (i, plugin) in config.plugins.enumerated() where plugin.name == "opentelemetry" && plugin.enabled {
                tracing[Int16(clamping: i)] = Instance(
                    plugin: plugin, traces: plugin.config["traces_endpoint"]?.stringValue != nil,
                    logs: plugin.config["logs_endpoint"]?.stringValue != nil)
            }
            self.tracing = tracing
            routePaths = config.routes.map { $0.paths?.first }
            pluginEvents = config.plugins.map { "kong.access.plugin." + $0.name }
            entities = EntityCache(config)
        }
    }

    /// An `opentelemetry` instance and what it sends.
    struct Instance: Sendable {
        let plugin: Plugin
        let traces: Bool
        let logs: Bool
    }

    struct State: Sendable {
        var plans: [UInt32: Plan] = [:]
        var detail: [UInt8] = []
        var sinks: [String: HTTPLogSink] = [:]
        var configs: [String: JSONValue] = [:]
        var tasks: [Task<Void, Never>] = []
        let scratch = LogScratch()
        /// Traced requests whose details the ring had already reused (their spans are lost).
        var withoutDetail: UInt64 = 0
    }

    /// - Parameters:
    ///   - nodeID, version: the resource's `service.instance.id` and `service.version` (Kong's).
    public init(
        ring: EventRing, config: @escaping @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig), client: HTTPClient,
        dataDirectory: String, nodeID: String, version: String, shutdownGrace: Duration = .seconds(5), logger: Logger
    ) {
        self.ring = ring
        self.config = config
        self.client = client
        self.spoolRoot = dataDirectory + "/spool/opentelemetry"
        self.logger = logger
        self.shutdownGrace = shutdownGrace
        resourceDefaults = [("service.name", "kong"), ("service.instance.id", nodeID), ("service.version", version)]
    }

    private func plan(_ version: UInt32, _ state: inout State) -> Plan {
        if let plan = state.plans[version] { return plan }
        let found = config(version)
        if state.plans.count >= 4, let oldest = state.plans.keys.min() { state.plans[oldest] = nil }
        let plan = Plan(version: version, config: found.config)
        state.plans[version] = plan
        return plan
    }

    /// What a batch of events produced, per sink.
    private struct Gathered {
        var items: [(plugin: Plugin, kind: OTLPEndpoint.Kind, records: [[UInt8]])] = []

        mutating func add(_ plugin: Plugin, _ kind: OTLPEndpoint.Kind, _ record: [UInt8]) {
            if let k = items.firstIndex(where: { $0.plugin.id == plugin.id && $0.kind == kind }) {
                items[k].records.append(record)
            } else {
                items.append((plugin, kind, [record]))
            }
        }
    }

    public func receive(_ events: UnsafeBufferPointer<RequestEvent>) {
        guard let first = events.first else { return }
        state.withLockedValue { state in
            var plan = self.plan(first.configVersion, &state)
            var gathered = Gathered()
            let encoder = SpanEncoder(clock: clock)
            // one buffer for the batch's spans; each request's are copied out as its record
            var w = ProtobufWriter(capacity: 4096)
            for event in events {
                if event.configVersion != plan.version { plan = self.plan(event.configVersion, &state) }
                if plan.tracing.isEmpty || event.detail == 0 { continue }
                guard ring.detail(of: event, into: &state.detail) else {
                    state.withoutDetail += 1
                    continue
                }
                state.detail.withUnsafeBytes { raw in
                    guard let parts = RequestDetail.Parts(raw), let ids = parts.trace, let instance = plan.tracing[ids.plugin] else { return }
                    let plugin = instance.plugin
                    if ids.sampled, instance.traces {
                        let request = HeadLines(parts.requestHead, reusing: state.scratch.takeFields())
                        defer { state.scratch.giveBack(request.fields) }
                        let route = Int(event.route)
                        let path = route >= 0 && route < plan.routePaths.count ? plan.routePaths[route] : nil
                        w.reset()
                        let answered = event.plugin >= 0 && Int(event.plugin) < plan.pluginEvents.count ? plan.pluginEvents[Int(event.plugin)] : nil
                        encoder.encode(event, parts, ids, request, routePath: path, answeredBy: answered, into: &w)
                        gathered.add(plugin, .traces, w.bytes)
                    }
                    if instance.logs {
                        serializer.serialize(event, encodedDetail: raw, entities: plan.entities, scratch: state.scratch) { record, _ in
                            var log = ProtobufWriter(capacity: record.count + 128)
                            LogRecordEncoder.encode(event, record: record, ids: ids, clock: encoder.clock, into: &log)
                            gathered.add(plugin, .logs, log.bytes)
                        }
                    }
                }
            }
            for item in gathered.items {
                sink(for: item.plugin, item.kind, &state).enqueue(item.records)
            }
            tracing.store(!plan.tracing.isEmpty, ordering: .relaxed)
        }
    }

    /// 5 ms while the running config traces; 50 ms while it has no `opentelemetry` instance
    /// (nothing to send, so no reason to wake up 200 times a second).
    public var pollInterval: Duration { tracing.load(ordering: .relaxed) ? .milliseconds(5) : .milliseconds(50) }

    private func sink(for plugin: Plugin, _ kind: OTLPEndpoint.Kind, _ state: inout State) -> HTTPLogSink {
        let key = plugin.id + "-" + kind.rawValue
        if let existing = state.sinks[key] {
            // the instance was changed (Admin API, reload): its sink takes the new config
            if state.configs[key] != plugin.config {
                existing.update(OTLPEndpoint.make(plugin.config, kind: kind, resourceDefaults: resourceDefaults))
                state.configs[key] = plugin.config
            }
            return existing
        }
        let endpoint = OTLPEndpoint.make(plugin.config, kind: kind, resourceDefaults: resourceDefaults)
        state.configs[key] = plugin.config
        let sink = HTTPLogSink(
            id: plugin.instanceName ?? plugin.id, endpoint: endpoint, client: client, spoolDirectory: spoolRoot + "/" + key, logger: logger)
        state.sinks[key] = sink
        state.tasks.append(Task { await sink.run() })
        return sink
    }

    /// Starts a sender for every configured instance whose spool holds spans or records.
    public func resumeSpools() {
        let current = config(UInt32.max).config
        for name in Spool.existing(in: spoolRoot) {
            guard let dash = name.lastIndex(of: "-"), let kind = OTLPEndpoint.Kind(rawValue: String(name[name.index(after: dash)...])),
                  let plugin = current.plugins.first(where: { $0.id == name[..<dash] && $0.name == "opentelemetry" && $0.enabled })
            else {
                logger.warning("opentelemetry: a spool of an instance that is no longer configured is kept, not sent",
                               metadata: ["path": "\(spoolRoot)/\(name)"])
                continue
            }
            state.withLockedValue { state in _ = sink(for: plugin, kind, &state) }
        }
    }

    public func finish() async {
        let (sinks, tasks) = state.withLockedValue { ($0.sinks.values.map { $0 }, $0.tasks) }
        for sink in sinks { sink.stop(grace: shutdownGrace) }
        for task in tasks { await task.value }
    }

    public func statistics() -> [ExporterStatistic] {
        let (sinks, withoutDetail) = state.withLockedValue { ($0.sinks.values.map { $0 }, $0.withoutDetail) }
        var out = sinks.sorted { $0.id < $1.id }.flatMap { $0.statistics() }
        if !sinks.isEmpty || withoutDetail > 0 {
            out.append(.init(family: "argus_log_records_total", kind: .counter, help: "Log records by sink and outcome",
                             labels: [.init("sink", "opentelemetry"), .init("instance", ""), .init("destination", ""), .init("outcome", "without_detail")],
                             value: Double(withoutDetail)))
        }
        return out
    }
}
