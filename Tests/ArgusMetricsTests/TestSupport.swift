import ArgusConfig
import ArgusEvents
import ArgusMetrics
import Foundation

/// An exporter over a fixed set of config versions, fed synthetic events.
struct Fixture {
    let ring = EventRing(capacity: 64, lanes: 1, detailCapacity: 64 * 1024)
    let exporter: PrometheusExporter

    /// `versions[0]` is version 1, and so on; the last one is current.
    init(_ yamls: [String], settings: MetricsSettings = MetricsSettings(), targets: [TargetHealth] = []) throws {
        let configs = try yamls.map { try ConfigLoader.parse(text: $0, file: "kong.yml") }
        exporter = PrometheusExporter(
            ring: ring, settings: settings,
            sources: MetricsSources(
                nodeID: "node-1", version: "test",
                config: { v in
                    let i = Int(v) >= 1 && Int(v) <= configs.count ? Int(v) : configs.count
                    return (UInt32(i), configs[i - 1])
                },
                connections: { ConnectionGauges() },
                targets: { _ in targets }))
    }

    init(_ yaml: String, settings: MetricsSettings = MetricsSettings(), targets: [TargetHealth] = []) throws {
        try self.init([yaml], settings: settings, targets: targets)
    }

    func feed(_ events: [RequestEvent]) {
        events.withUnsafeBufferPointer { exporter.receive($0) }
    }

    func scrape() async -> Exposition {
        Exposition(text: String(decoding: await exporter.render(), as: UTF8.self))
    }
}

/// A parsed exposition: samples by their full series text (`name{labels}`), in order.
struct Exposition {
    let text: String
    let samples: [(series: String, value: Double)]
    let values: [String: Double]

    init(text: String) {
        self.text = text
        var samples: [(String, Double)] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            samples.append((String(line[..<space]), Double(line[line.index(after: space)...]) ?? .nan))
        }
        self.samples = samples
        values = Dictionary(samples, uniquingKeysWith: { a, _ in a })
    }

    subscript(_ series: String) -> Double? { values[series] }

    /// Sum of every sample of `name` whose labels contain all of `labels` (e.g. `code="200"`).
    func sum(_ name: String, _ labels: String...) -> Double {
        samples.filter { s in
            (s.series == name || s.series.hasPrefix(name + "{")) && labels.allSatisfy { s.series.contains($0) }
        }.reduce(0) { $0 + $1.value }
    }

    func has(family: String) -> Bool { text.contains("# TYPE \(family) ") }
}

/// A request event: `route`/`service` indexes (-1 none), latencies in microseconds.
func event(
    route: Int32 = 0, service: Int32 = 0, status: UInt16 = 200, upstream: Bool = true, consumer: Int32 = -1,
    gatewayMicros: UInt64 = 500, upstreamMicros: UInt64 = 2_000, tailMicros: UInt64 = 100,
    requestBytes: UInt64 = 100, responseBytes: UInt64 = 1_000, version: UInt32 = 1
) -> RequestEvent {
    var e = RequestEvent()
    e.route = route
    e.service = service
    e.status = status
    e.consumer = consumer
    e.source = upstream ? .upstream : .gateway
    e.configVersion = version
    e.receivedAt = 1_000_000_000
    if upstream {
        e.upstreamSentAt = e.receivedAt + gatewayMicros * 1_000
        e.upstreamFirstByteAt = e.upstreamSentAt + upstreamMicros * 1_000
        e.completedAt = e.upstreamFirstByteAt + tailMicros * 1_000
    } else {
        e.completedAt = e.receivedAt + gatewayMicros * 1_000
    }
    e.requestBytes = requestBytes
    e.responseBytes = responseBytes
    return e
}

let allFlags = "{status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true, upstream_health_metrics: true}"

/// Two services, three routes (the third unnamed on an unnamed service), a global prometheus plugin.
let shopYAML = """
    _format_version: "3.0"
    services:
      - name: orders
        url: http://127.0.0.1:9001
        routes:
          - {name: orders-list, paths: ["/orders"]}
          - {name: orders-admin, paths: ["/admin"]}
      - host: billing.internal
        port: 9002
        routes:
          - {id: 5a1f3d4e-0000-4000-8000-000000000001, paths: ["/billing"]}
    plugins:
      - name: prometheus
        config: \(allFlags)
    """
