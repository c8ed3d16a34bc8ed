import ArgusEvents

/// The request families Kong's `prometheus` plugin exports, aggregated from events:
/// `kong_http_requests_total`, the three latency histograms and `kong_bandwidth_bytes`.
/// Owned by the exporter; touched only under its lock.
struct RequestMetrics: Sendable {
    private struct RequestKey: Hashable, Sendable {
        var service: Int32, route: Int32, code: Int32, consumer: Int32
        var source: UInt8
    }

    private struct RouteKey: Hashable, Sendable {
        var service: Int32, route: Int32
    }

    private struct BandwidthKey: Hashable, Sendable {
        var service: Int32, route: Int32, consumer: Int32
        var egress: Bool
    }

    private var requests = SeriesTable<RequestKey>()
    private var bandwidth = SeriesTable<BandwidthKey>()
    /// The three latency histograms of a (service, route) share one slot: one lookup per event.
    private var latency = SeriesTable<RouteKey>(stride: Self.latencyStride)
    private static let kongOffset = 0
    private static let upstreamOffset = LatencyBuckets.kong.stride
    private static let requestOffset = LatencyBuckets.kong.stride + LatencyBuckets.upstream.stride
    private static let latencyStride = LatencyBuckets.kong.stride + 2 * LatencyBuckets.upstream.stride

    init() {}

    /// Upstream-latency histograms with at least one observation (only those are exported).
    private var upstreamSeries = 0
    /// The latest exemplar of each latency bucket, by cell (from sampled traced requests only).
    private var exemplars: [Int: Exemplar] = [:]

    /// A sampled request's trace id and when it completed (wall clock, ms), for exemplars.
    struct TraceStamp {
        var high: UInt64
        var low: UInt64
        var wallMillis: UInt64
    }

    /// Series held, per family (for `argus_metrics_series`).
    var seriesCounts: [(family: String, count: Int)] {
        [
            ("kong_bandwidth_bytes", bandwidth.count), ("kong_http_requests_total", requests.count),
            ("kong_kong_latency_ms", latency.count), ("kong_request_latency_ms", latency.count),
            ("kong_upstream_latency_ms", upstreamSeries),
        ]
    }

    /// Records one event under the plan of its config version.
    mutating func record(_ event: RequestEvent, plan: inout MetricsPlan, labels: inout RequestLabels, trace: TraceStamp? = nil) {
        let route = Int(event.route)
        guard let flags = plan.flags(route: route, consumer: Int(event.consumer)), flags.recordsRequests else { return }
        var service: Int32 = 0, routeLabel: Int32 = 0
        if route >= 0 && route < plan.routes.count {
            service = plan.routes[route].service
            routeLabel = plan.routes[route].route
        }
        let consumer = flags.perConsumer ? plan.consumerLabel(Int(event.consumer), labels: &labels) : 0
        labels.services.fold(service)
        labels.routes.fold(routeLabel)
        labels.consumers.fold(consumer)

        if flags.statusCodeMetrics {
            let code = labels.code(event.status)
            labels.codes.fold(code)
            let key = RequestKey(service: service, route: routeLabel, code: code, consumer: consumer,
                                 source: event.source == .upstream ? 0 : 1)
            let cell = requests.slot(key) { Self.render(key, labels) }
            requests.cells[cell] &+= 1
        }
        if flags.latencyMetrics {
            let key = RouteKey(service: service, route: routeLabel)
            let base = latency.slot(key) { Self.render(key, labels) }
            observe(base &+ Self.kongOffset, event.gatewayLatencyNanos, LatencyBuckets.kong, trace)
            if event.upstreamSentAt != 0 && event.upstreamFirstByteAt != 0 {
                let upstream = base &+ Self.upstreamOffset
                if latency.cells[upstream &+ LatencyBuckets.upstream.bounds.count &+ 1] == 0 && count(upstream, LatencyBuckets.upstream) == 0 {
                    upstreamSeries &+= 1
                }
                observe(upstream, event.upstreamLatencyNanos, LatencyBuckets.upstream, trace)
            }
            observe(base &+ Self.requestOffset, event.totalLatencyNanos, LatencyBuckets.upstream, trace)
        }
        if flags.bandwidthMetrics {
            let ingress = BandwidthKey(service: service, route: routeLabel, consumer: consumer, egress: false)
            bandwidth.cells[bandwidth.slot(ingress) { Self.render(ingress, labels) }] &+= event.requestBytes
            let egress = BandwidthKey(service: service, route: routeLabel, consumer: consumer, egress: true)
            bandwidth.cells[bandwidth.slot(egress) { Self.render(egress, labels) }] &+= event.responseBytes
        }
    }

    /// One observation in the histogram whose cells start at `base`: its bucket, and the sum (ns);
    /// a traced one is the bucket's exemplar.
    @inline(__always)
    private mutating func observe(_ base: Int, _ nanos: UInt64, _ buckets: LatencyBuckets, _ trace: TraceStamp?) {
        let cell = base &+ buckets.bucket(nanos)
        latency.cells[cell] &+= 1
        latency.cells[base &+ buckets.bounds.count &+ 1] &+= nanos
        if let trace { exemplars[cell] = Exemplar(traceHigh: trace.high, traceLow: trace.low, nanos: nanos, wallMillis: trace.wallMillis) }
    }

    /// Observations in the histogram whose cells start at `base`.
    private func count(_ base: Int, _ buckets: LatencyBuckets) -> UInt64 {
        var total: UInt64 = 0
        for i in 0...buckets.bounds.count { total &+= latency.cells[base + i] }
        return total
    }

    // MARK: - Rendering

    private static func render(_ key: RequestKey, _ labels: RequestLabels) -> [UInt8] {
        var w = ExpositionWriter()
        w.label("service", labels.services.escaped[Int(key.service)], first: true)
        w.label("route", labels.routes.escaped[Int(key.route)])
        w.label("code", labels.codes.escaped[Int(key.code)])
        w.label("source", key.source == 0 ? Array("service".utf8) : Array("kong".utf8))
        w.label("workspace", Array("default".utf8))
        w.label("consumer", labels.consumers.escaped[Int(key.consumer)])
        return w.bytes
    }

    private static func render(_ key: RouteKey, _ labels: RequestLabels) -> [UInt8] {
        var w = ExpositionWriter()
        w.label("service", labels.services.escaped[Int(key.service)], first: true)
        w.label("route", labels.routes.escaped[Int(key.route)])
        w.label("workspace", Array("default".utf8))
        return w.bytes
    }

    private static func render(_ key: BandwidthKey, _ labels: RequestLabels) -> [UInt8] {
        var w = ExpositionWriter()
        w.label("service", labels.services.escaped[Int(key.service)], first: true)
        w.label("route", labels.routes.escaped[Int(key.route)])
        w.label("direction", key.egress ? Array("egress".utf8) : Array("ingress".utf8))
        w.label("workspace", Array("default".utf8))
        w.label("consumer", labels.consumers.escaped[Int(key.consumer)])
        return w.bytes
    }

    /// Names of the families that have series.
    var familyNames: [String] {
        var names: [String] = []
        if bandwidth.count > 0 { names.append("kong_bandwidth_bytes") }
        if requests.count > 0 { names.append("kong_http_requests_total") }
        if latency.count > 0 { names += ["kong_kong_latency_ms", "kong_request_latency_ms"] }
        if upstreamSeries > 0 { names.append("kong_upstream_latency_ms") }
        return names
    }

    /// Writes one of ``familyNames`` (header and samples).
    mutating func write(_ family: String, into out: inout ExpositionWriter) {
        switch family {
        case "kong_bandwidth_bytes":
            out.header(family, "counter", "Total bandwidth (ingress/egress) throughput in bytes")
            Self.writeCounter(&bandwidth, family, into: &out)
        case "kong_http_requests_total":
            out.header(family, "counter", "HTTP status codes per consumer/service/route in Kong")
            Self.writeCounter(&requests, family, into: &out)
        case "kong_kong_latency_ms":
            out.header(family, "histogram", "Latency added by Kong and enabled plugins for each service/route in Kong")
            Self.writeHistogram(&latency, exemplars, Self.kongOffset, family, LatencyBuckets.kong, into: &out)
        case "kong_request_latency_ms":
            out.header(family, "histogram", "Total latency incurred during requests for each service/route in Kong")
            Self.writeHistogram(&latency, exemplars, Self.requestOffset, family, LatencyBuckets.upstream, into: &out)
        case "kong_upstream_latency_ms":
            out.header(family, "histogram", "Latency added by upstream response for each service/route in Kong")
            Self.writeHistogram(&latency, exemplars, Self.upstreamOffset, family, LatencyBuckets.upstream, into: &out)
        default:
            break
        }
    }

    static func writeCounter<K>(_ table: inout SeriesTable<K>, _ name: String, into out: inout ExpositionWriter) {
        let name = Array(name.utf8)
        for slot in table.sortedSlots() {
            out.sample(name, table.labels[slot], table.cells[slot])
        }
    }

    /// Like Kong: every `_bucket` line (series in label order, `le` ascending), then every `_count`,
    /// then every `_sum`; in OpenMetrics, series by series (buckets with their exemplars, count,
    /// sum), as its grouping rule asks. The histogram's cells start at `offset` in each slot; series
    /// without an observation are left out.
    private static func writeHistogram<K>(_ table: inout SeriesTable<K>, _ exemplars: [Int: Exemplar], _ offset: Int, _ name: String,
                                          _ buckets: LatencyBuckets, into out: inout ExpositionWriter) {
        let n = buckets.bounds.count + 1
        let order = table.sortedSlots().filter { slot in
            let base = slot * table.stride + offset
            return (0..<n).contains { table.cells[base + $0] != 0 }
        }
        let bucketName = Array((name + "_bucket").utf8)
        if out.openMetrics {
            let countName = Array((name + "_count").utf8), sumName = Array((name + "_sum").utf8)
            for slot in order {
                let base = slot * table.stride + offset
                var cumulative: UInt64 = 0
                for i in 0..<n {
                    cumulative &+= table.cells[base + i]
                    out.bucket(bucketName, table.labels[slot], buckets.le[i], cumulative, exemplar: exemplars[base + i])
                }
                out.sample(countName, table.labels[slot], cumulative)
                out.sample(sumName, table.labels[slot], milliseconds: table.cells[base + n])
            }
            return
        }
        for slot in order {
            let base = slot * table.stride + offset
            var cumulative: UInt64 = 0
            for i in 0..<n {
                cumulative &+= table.cells[base + i]
                out.bucket(bucketName, table.labels[slot], buckets.le[i], cumulative)
            }
        }
        let countName = Array((name + "_count").utf8)
        for slot in order {
            let base = slot * table.stride + offset
            var total: UInt64 = 0
            for i in 0..<n { total &+= table.cells[base + i] }
            out.sample(countName, table.labels[slot], total)
        }
        let sumName = Array((name + "_sum").utf8)
        for slot in order {
            out.sample(sumName, table.labels[slot], milliseconds: table.cells[slot * table.stride + offset + n])
        }
    }
}
