import ArgusConfig
import ArgusEvents
import ArgusStatistics
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Prometheus exporter: an ``EventExporter`` that aggregates every request event into Kong's
/// families (as the `prometheus` plugin instances in the config ask), and renders the whole
/// exposition, Kong's node gauges and Argus's own pipeline and process families included.
///
/// Request handling never touches it: the event loops only publish events. Aggregation runs in the
/// exporter's task; ``render()`` runs in the scraping task. Both take the exporter's own lock,
/// which nothing on the data path ever waits for.
public final class PrometheusExporter: EventExporter {
    public let name = "prometheus"
    private let ring: EventRing
    private let sources: MetricsSources
    private let state: NIOLockedValueBox<State>

    private struct State: Sendable {
        var labels: RequestLabels
        var metrics = RequestMetrics()
        var plugins: PluginMetrics
        /// The plan of the version the last event referred to (kept out of `plans`, so that
        /// using it costs no dictionary lookup and no copy).
        var active: MetricsPlan?
        var activeVersion: UInt32 = 0
        /// Plans of other recent versions.
        var plans: [UInt32: MetricsPlan] = [:]
        /// A sampled request's details, read for its trace id (exemplars).
        var detail: [UInt8] = []
    }

    /// Wall-clock minus monotonic nanoseconds at start: an event's times are monotonic.
    private let wallOffset: Int64 = {
        var real = timespec(), mono = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return (Int64(real.tv_sec) - Int64(mono.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(mono.tv_nsec)
    }()

    private static let keptPlans = 4

    public init(ring: EventRing, settings: MetricsSettings = MetricsSettings(), sources: MetricsSources) {
        self.ring = ring
        self.sources = sources
        state = NIOLockedValueBox(State(labels: RequestLabels(settings: settings), plugins: PluginMetrics(clientBudget: settings.clientBudget)))
    }

    /// Metrics are read by a scrape every few seconds: 20 wake-ups a second are plenty.
    public var pollInterval: Duration { .milliseconds(50) }

    public func receive(_ events: UnsafeBufferPointer<RequestEvent>) {
        state.withLockedValue { state in
            for event in events {
                if state.active == nil || event.configVersion != state.activeVersion { activate(event.configVersion, &state) }
                // a sampled traced request (a few in a hundred at most): its trace id is the exemplar
                var stamp: RequestMetrics.TraceStamp?
                if event.hasSampledTrace, ring.detail(of: event, into: &state.detail) {
                    stamp = state.detail.withUnsafeBytes { raw in
                        RequestDetail.Parts(raw)?.trace.map { ids in
                            RequestMetrics.TraceStamp(
                                high: ids.traceHigh, low: ids.traceLow,
                                wallMillis: UInt64(clamping: (Int64(clamping: event.completedAt) &+ wallOffset) / 1_000_000))
                        }
                    }
                }
                state.metrics.record(event, plan: &state.active!, labels: &state.labels, trace: stamp)
                if PluginMetrics.concerns(event) { state.plugins.record(event, plan: state.active!, labels: state.labels) }
            }
        }
    }

    /// Makes `version`'s plan the active one, compiling it if it is not among the recent ones.
    private func activate(_ version: UInt32, _ state: inout State) {
        if let active = state.active.take() { state.plans[state.activeVersion] = active }
        if let plan = state.plans.removeValue(forKey: version) {
            state.active = plan
        } else {
            let found = sources.config(version)
            state.active = MetricsPlan(version: found.version, config: found.config, labels: &state.labels)
        }
        state.activeVersion = version
        while state.plans.count >= Self.keptPlans, let oldest = state.plans.keys.min() { state.plans[oldest] = nil }
    }

    /// The exposition (text format 0.0.4, or OpenMetrics 1.0 with the latency buckets' trace
    /// exemplars): every family in name order, every series in label order.
    public func render(openMetrics: Bool = false) async -> [UInt8] {
        let connections = await sources.connections()
        let process = ProcessStats.current()
        let consumers = ring.consumerStatistics()
        let published = ring.totalPublished
        let current = sources.config(UInt32.max)
        let reported = sources.statistics()

        var families: [(name: String, write: (inout ExpositionWriter) -> Void)] = []
        func add(_ name: String, _ type: String, _ help: String, _ body: @escaping (inout ExpositionWriter) -> Void) {
            families.append((name, { out in out.header(name, type, help); body(&out) }))
        }
        let node = sources.nodeID
        let ringSlots = ring.capacity * ring.lanes
        let ownDropped = consumers.first { $0.name == name }?.dropped ?? 0

        // Kong's always-on node families.
        add("kong_datastore_reachable", "gauge", "Datastore reachable from Kong, 0 is unreachable") { $0.sample("kong_datastore_reachable", value: 1) }
        add("kong_node_info", "gauge", "Kong Node metadata information") {
            $0.sample("kong_node_info", [("node_id", node), ("version", self.sources.version)], 1)
        }
        add("kong_nginx_connections_total", "gauge", "Number of connections by subsystem") { out in
            let states: [(String, Int)] = [
                ("accepted", connections.accepted), ("active", connections.active), ("handled", connections.handled),
                ("reading", connections.reading), ("total", connections.requests), ("waiting", connections.waiting),
                ("writing", connections.writing),
            ]
            for (state, value) in states {
                out.sample("kong_nginx_connections_total", [("node_id", node), ("subsystem", "http"), ("state", state)], Double(value))
            }
        }
        add("kong_nginx_requests_total", "gauge", "Number of requests total") {
            $0.sample("kong_nginx_requests_total", [("node_id", node), ("subsystem", "http")], Double(connections.requests))
        }
        // Argus has no Lua shared dicts; its one shared memory area is the event ring, reported
        // here so Kong's dashboard panel shows how full it is (unconsumed events of the slowest exporter).
        let backlog = min(consumers.map(\.lag).max() ?? 0, UInt64(ringSlots))
        add("kong_memory_lua_shared_dict_bytes", "gauge", "Allocated slabs in bytes in a shared_dict") {
            $0.sample("kong_memory_lua_shared_dict_bytes", [("node_id", node), ("shared_dict", "argus_event_ring"), ("kong_subsystem", "http")],
                      Double(backlog) * 128)
        }
        add("kong_memory_lua_shared_dict_total_bytes", "gauge", "Total capacity in bytes of a shared_dict") {
            $0.sample("kong_memory_lua_shared_dict_total_bytes", [("node_id", node), ("shared_dict", "argus_event_ring"), ("kong_subsystem", "http")],
                      Double(ringSlots) * 128)
        }
        if let process {
            add("kong_memory_workers_lua_vms_bytes", "gauge", "Allocated bytes in worker Lua VM") {
                $0.sample("kong_memory_workers_lua_vms_bytes", [("node_id", node), ("pid", String(getpid())), ("kong_subsystem", "http")],
                          process.residentBytes)
            }
        }

        // Argus's own pipeline families.
        add("argus_events_published_total", "counter", "Request events published on the event ring") {
            $0.sample("argus_events_published_total", value: Double(published))
        }
        let sortedConsumers = consumers.sorted { $0.name < $1.name }
        add("argus_events_delivered_total", "counter", "Request events delivered to each exporter") { out in
            for c in sortedConsumers { out.sample("argus_events_delivered_total", [("exporter", c.name)], Double(c.delivered)) }
        }
        add("argus_events_dropped_total", "counter", "Request events an exporter lost because it fell a full ring behind") { out in
            for c in sortedConsumers { out.sample("argus_events_dropped_total", [("exporter", c.name)], Double(c.dropped)) }
        }
        add("argus_exporter_lag_events", "gauge", "Request events published but not yet consumed, per exporter") { out in
            for c in sortedConsumers { out.sample("argus_exporter_lag_events", [("exporter", c.name)], Double(c.lag)) }
        }
        add("argus_event_ring_capacity_events", "gauge", "Slots of the event ring (all lanes)") {
            $0.sample("argus_event_ring_capacity_events", value: Double(ringSlots))
        }

        if let process {
            add("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds") { $0.sample("process_cpu_seconds_total", value: process.cpuSeconds) }
            add("process_max_fds", "gauge", "Maximum number of open file descriptors") { $0.sample("process_max_fds", value: process.maxFDs) }
            add("process_open_fds", "gauge", "Number of open file descriptors") { $0.sample("process_open_fds", value: process.openFDs) }
            add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes") { $0.sample("process_resident_memory_bytes", value: process.residentBytes) }
            add("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds") { $0.sample("process_start_time_seconds", value: process.startTimeSeconds) }
            add("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes") { $0.sample("process_virtual_memory_bytes", value: process.virtualBytes) }
        }

        // Families the other exporters report, grouped by name (each family's samples sorted by labels).
        var byFamily: [String: [ExporterStatistic]] = [:]
        for statistic in reported { byFamily[statistic.family, default: []].append(statistic) }
        for (family, samples) in byFamily {
            let first = samples[0]
            add(family, first.kind.rawValue, first.help) { out in
                var lines: [([UInt8], Double)] = samples.map { sample in
                    var w = ExpositionWriter()
                    for (i, label) in sample.labels.enumerated() { w.label(label.name, label.value, first: i == 0) }
                    return (w.bytes, sample.value)
                }
                lines.sort { $0.0.lexicographicallyPrecedes($1.0) }
                let name = Array(family.utf8)
                for (labels, value) in lines { out.sample(name, labels, value) }
            }
        }

        return state.withLockedValue { state in
            if state.active == nil || state.activeVersion != current.version { activate(current.version, &state) }
            let plan = state.active!
            if plan.hasInstances {
                add("kong_nginx_metric_errors_total", "counter", "Number of nginx-lua-prometheus errors") {
                    // Kong counts failed metric updates; Argus's equivalent is events the exporter lost.
                    $0.sample("kong_nginx_metric_errors_total", value: Double(ownDropped))
                }
            }
            if plan.upstreamHealth {
                let targets = sources.targets(plan.config)
                add("kong_upstream_target_health", "gauge", "Health status of targets of upstream. States = healthchecks_off|healthy|unhealthy|dns_error, value is 1 when state is populated.") { out in
                    var lines: [([UInt8], Double)] = []
                    for t in targets {
                        for s in TargetHealth.State.allCases {
                            var w = ExpositionWriter()
                            w.label("upstream", t.upstream, first: true); w.label("target", t.target)
                            w.label("address", t.address); w.label("state", s.rawValue); w.label("subsystem", "http")
                            lines.append((w.bytes, s == t.state ? 1 : 0))
                        }
                    }
                    lines.sort { $0.0.lexicographicallyPrecedes($1.0) }
                    let name = Array("kong_upstream_target_health".utf8)
                    for (labels, value) in lines { out.sample(name, labels, value) }
                }
            }
            let labels = state.labels.all + [state.plugins.clientLabel]
            add("argus_metrics_label_overflow_total", "counter", "Observations whose label value was folded into __overflow__ (budget spent)") { out in
                for l in labels { out.sample("argus_metrics_label_overflow_total", [("label", l.label)], Double(l.folded)) }
            }
            // Without an enabled prometheus instance, Kong exports only what it measures at the
            // scrape (its `metric_data(local_only)`): the request, latency and bandwidth families go,
            // and Argus's own families do not name them either.
            // (a family no instance enables, `bandwidth_metrics: false` say, has no series and is not named)
            let series = state.metrics.seriesCounts.filter { $0.count > 0 && (plan.hasInstances || !$0.family.hasPrefix("kong_")) }
            add("argus_metrics_series", "gauge", "Series held per request family") { out in
                for s in series { out.sample("argus_metrics_series", [("family", s.family)], Double(s.count)) }
            }
            var requestFamilies = plan.hasInstances ? Set(state.metrics.familyNames) : []
            var pluginFamilies = Set(state.plugins.familyNames)
            let order = (families.map(\.name) + requestFamilies + pluginFamilies).sorted()
            var out = ExpositionWriter(capacity: 64 * 1024, openMetrics: openMetrics)
            let byName = Dictionary(families.map { ($0.name, $0.write) }, uniquingKeysWith: { a, _ in a })
            for family in order {
                if let write = byName[family] {
                    write(&out)
                } else if requestFamilies.remove(family) != nil {
                    state.metrics.write(family, into: &out)
                } else if pluginFamilies.remove(family) != nil {
                    state.plugins.write(family, into: &out)
                }
            }
            out.end()
            return out.bytes
        }
    }
}
