import ArgusConfig
import ArgusEvents
import ArgusStatistics
import ArgusTracing
import AsyncHTTPClient
import Logging
import NIOConcurrencyHelpers
import Synchronization

/// The `opentelemetry` and `zipkin` plugins' exporter on the event ring: for each traced request
/// it reads the ids the request path chose (in the request's details), writes the spans of a
/// sampled request (``SpanEncoder`` as OTLP, ``ZipkinSpanEncoder`` as Zipkin v2 JSON) and, for an
/// instance with a `logs_endpoint`, the request's log record (``LogRecordEncoder``), and hands
/// them to the instance's senders. The senders are http-log's (``HTTPLogSink``): the same memory
/// queue, retries and disk spool, so an accepted span is never silently lost and every drop is
/// counted. Runs on the exporter's task, never on an event loop.
public final class TraceExporter: EventExporter, ReportsStatistics {
    public let name = "traces"
    private let ring: EventRing
    private let config: @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig)
    private let client: HTTPClient
    private let dataDirectory: String
    private let nodeID: String
    private let logger: Logger
    private let resourceDefaults: [(String, String)]
    private let shutdownGrace: Duration
    private let serializer = LogSerializer()
    private let clock = WallClock()
    private let state = NIOLockedValueBox(State())
    /// Whether the config version of the last event seen has a tracing instance.
    private let tracing = Atomic<Bool>(true)

    /// One config version: the `opentelemetry` and `zipkin` instances by their index in
    /// `plugins`, each route's first path (Kong's `http.route`), the entities for log records.
    final class Plan: Sendable {
        let version: UInt32
        let tracing: [Int16: Instance]
        let routePaths: [String?]
        /// Each plugin's span event name (`kong.access.plugin.<name>`), by its index in `plugins`.
        let pluginEvents: [String]
        let entities: EntityCache
        /// Service and route tags for Zipkin spans (empty without a zipkin instance).
        let zipkinEntities: ZipkinSpanEncoder.Entities?

        init(version: UInt32, config: DeclarativeConfig) {
            self.version = version
            var tracing: [Int16: Instance] = [:]
            for (i, plugin) in config.plugins.enumerated() where plugin.enabled {
                switch plugin.name {
                case "opentelemetry":
                    tracing[Int16(clamping: i)] = Instance(
                        plugin: plugin, traces: plugin.config["traces_endpoint"]?.stringValue != nil,
                        logs: plugin.config["logs_endpoint"]?.stringValue != nil, zipkin: nil)
                case "zipkin":
                    tracing[Int16(clamping: i)] = Instance(
                        plugin: plugin, traces: plugin.config["http_endpoint"]?.stringValue != nil, logs: false,
                        zipkin: ZipkinOptions(plugin.config))
                default:
                    continue
                }
            }
            self.tracing = tracing
            routePaths = config.routes.map { $0.paths?.first }
            pluginEvents = config.plugins.map { "kong.access.plugin." + $0.name }
            entities = EntityCache(config)
            zipkinEntities = tracing.values.contains { $0.zipkin != nil } ? ZipkinSpanEncoder.Entities(config) : nil
        }
    }

    /// A tracing instance and what it sends.
    struct Instance: Sendable {
        let plugin: Plugin
        let traces: Bool
        let logs: Bool
        /// A `zipkin` instance's settings (nil: `opentelemetry`).
        let zipkin: ZipkinOptions?
    }

    /// What a sender carries: OTLP spans, OTLP log records, Zipkin spans.
    enum SinkKind: String, Sendable {
        case traces
        case logs
        case zipkin

        /// The plugin whose spool directory holds it.
        var plugin: String { self == .zipkin ? "zipkin" : "opentelemetry" }
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
        self.dataDirectory = dataDirectory
        self.nodeID = nodeID
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
    /// A batch's records per instance (by its plugin index in the plan, compared as an integer)
    /// and kind of sink.
    private struct Gathered {
        var items: [(instance: Int, kind: SinkKind, records: [[UInt8]])] = []

        mutating func add(_ instance: Int, _ kind: SinkKind, _ record: [UInt8]) {
            if let k = items.firstIndex(where: { $0.instance == instance && $0.kind == kind }) {
                items[k].records.append(record)
            } else {
                items.append((instance, kind, [record]))
            }
        }
    }

    public func receive(_ events: UnsafeBufferPointer<RequestEvent>) {
        guard let first = events.first else { return }
        state.withLockedValue { state in
            var plan = self.plan(first.configVersion, &state)
            var gathered = Gathered()
            let encoder = SpanEncoder(clock: clock)
            let zipkinEncoder = ZipkinSpanEncoder(clock: clock, nodeID: nodeID)
            var json = JSONWriter(capacity: 4096)
            // one buffer for the batch's spans; each request's are copied out as its record
            var w = ProtobufWriter(capacity: 4096)
            // Records go to their sinks under the plan they were made with (indexes are per plan).
            func handOff() {
                for item in gathered.items {
                    guard let plugin = plan.tracing[Int16(truncatingIfNeeded: item.instance)]?.plugin else { continue }
                    sink(for: plugin, item.kind, &state).enqueue(item.records)
                }
                gathered = Gathered()
            }
            for event in events {
                if event.configVersion != plan.version {
                    handOff()
                    plan = self.plan(event.configVersion, &state)
                }
                if plan.tracing.isEmpty || event.detail == 0 { continue }
                guard ring.detail(of: event, into: &state.detail) else {
                    state.withoutDetail += 1
                    continue
                }
                state.detail.withUnsafeBytes { raw in
                    guard let parts = RequestDetail.Parts(raw), let ids = parts.trace, let instance = plan.tracing[ids.plugin] else { return }
                    let index = Int(ids.plugin)
                    if let options = instance.zipkin, let zipkinEntities = plan.zipkinEntities {
                        guard ids.sampled, instance.traces else { return }
                        let request = HeadLines(parts.requestHead, reusing: state.scratch.takeFields())
                        defer { state.scratch.giveBack(request.fields) }
                        json.reset()
                        zipkinEncoder.encode(event, parts, ids, request, options: options, config: plan.entities.config, entities: zipkinEntities,
                                             into: &json)
                        gathered.add(index, .zipkin, json.bytes)
                        return
                    }
                    if ids.sampled, instance.traces {
                        let request = HeadLines(parts.requestHead, reusing: state.scratch.takeFields())
                        defer { state.scratch.giveBack(request.fields) }
                        let route = Int(event.route)
                        let path = route >= 0 && route < plan.routePaths.count ? plan.routePaths[route] : nil
                        w.reset()
                        let answered = event.plugin >= 0 && Int(event.plugin) < plan.pluginEvents.count ? plan.pluginEvents[Int(event.plugin)] : nil
                        encoder.encode(event, parts, ids, request, routePath: path, answeredBy: answered, into: &w)
                        gathered.add(index, .traces, w.bytes)
                    }
                    if instance.logs {
                        serializer.serialize(event, encodedDetail: raw, entities: plan.entities, scratch: state.scratch) { record, _ in
                            var log = ProtobufWriter(capacity: record.count + 128)
                            LogRecordEncoder.encode(event, record: record, ids: ids, clock: encoder.clock, into: &log)
                            gathered.add(index, .logs, log.bytes)
                        }
                    }
                }
            }
            handOff()
            tracing.store(!plan.tracing.isEmpty, ordering: .relaxed)
        }
    }

    /// 5 ms while the running config traces; 50 ms while it has no tracing instance
    /// (nothing to send, so no reason to wake up 200 times a second).
    public var pollInterval: Duration { tracing.load(ordering: .relaxed) ? .milliseconds(5) : .milliseconds(50) }

    private func endpoint(_ plugin: Plugin, _ kind: SinkKind) -> HTTPLogEndpoint {
        switch kind {
        case .traces: return OTLPEndpoint.make(plugin.config, kind: .traces, resourceDefaults: resourceDefaults)
        case .logs: return OTLPEndpoint.make(plugin.config, kind: .logs, resourceDefaults: resourceDefaults)
        case .zipkin: return ZipkinEndpoint.make(plugin.config)
        }
    }

    /// `<data>/spool/opentelemetry` or `<data>/spool/zipkin`.
    private func spoolRoot(_ plugin: String) -> String { dataDirectory + "/spool/" + plugin }

    private func sink(for plugin: Plugin, _ kind: SinkKind, _ state: inout State) -> HTTPLogSink {
        let key = plugin.id + "-" + kind.rawValue
        if let existing = state.sinks[key] {
            // the instance was changed (Admin API, reload): its sink takes the new config
            if state.configs[key] != plugin.config {
                existing.update(endpoint(plugin, kind))
                state.configs[key] = plugin.config
            }
            return existing
        }
        state.configs[key] = plugin.config
        let sink = HTTPLogSink(
            id: plugin.instanceName ?? plugin.id, endpoint: endpoint(plugin, kind), client: client,
            spoolDirectory: spoolRoot(kind.plugin) + "/" + key, logger: logger)
        state.sinks[key] = sink
        state.tasks.append(Task { await sink.run() })
        return sink
    }

    /// Starts a sender for every configured instance whose spool holds spans or records.
    public func resumeSpools() {
        let current = config(UInt32.max).config
        for root in ["opentelemetry", "zipkin"] {
            for name in Spool.existing(in: spoolRoot(root)) {
                guard let dash = name.lastIndex(of: "-"), let kind = SinkKind(rawValue: String(name[name.index(after: dash)...])),
                      kind.plugin == root,
                      let plugin = current.plugins.first(where: { $0.id == name[..<dash] && $0.name == root && $0.enabled })
                else {
                    logger.warning("\(root): a spool of an instance that is no longer configured is kept, not sent",
                                   metadata: ["path": "\(spoolRoot(root))/\(name)"])
                    continue
                }
                state.withLockedValue { state in _ = sink(for: plugin, kind, &state) }
            }
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
