import ArgusCompression
import ArgusConfig
import ArgusEvents
import ArgusMetrics
import Foundation

/// The Prometheus exporter: aggregation cost per event, and the time to render (and gzip) a
/// scrape of about 100,000 series.
enum MetricsBench {
    static func run() async {
        print("prometheus exporter (release build)")
        aggregation()
        print("")
        print("| series in the exposition | exposition bytes | render ms (median of 5) | gzip ms | gzip bytes |")
        print("|---:|---:|---:|---:|---:|")
        for routes in [200, 2_000] { await scrape(routes: routes) }
    }

    /// `routes` routes on one service with every flag on; consumers for per_consumer.
    static func exporter(routes: Int, consumers: Int) throws -> (PrometheusExporter, EventRing) {
        var yaml = "_format_version: \"3.0\"\nconsumers:\n"
        for c in 0..<consumers { yaml += "  - username: consumer-\(c)\n" }
        yaml += "services:\n  - name: svc\n    url: http://127.0.0.1:9001\n    routes:\n"
        for r in 0..<routes { yaml += "      - {name: route-\(r), paths: [\"/r\(r)\"]}\n" }
        yaml += "plugins: [{name: prometheus, config: {per_consumer: true, status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true}}]\n"
        let config = try ConfigLoader.parse(text: yaml, file: "bench.yml")
        let ring = EventRing(capacity: 1024, lanes: 1)
        let exporter = PrometheusExporter(
            ring: ring,
            sources: MetricsSources(
                nodeID: "bench", version: "bench", config: { _ in (1, config) }, connections: { ConnectionGauges() },
                targets: { _ in [] }))
        return (exporter, ring)
    }

    static func event(route: Int, status: UInt16, consumer: Int, i: UInt64) -> RequestEvent {
        var e = RequestEvent()
        e.route = Int32(route); e.service = 0; e.consumer = Int32(consumer); e.status = status
        e.configVersion = 1; e.source = .upstream
        e.receivedAt = 1_000_000; e.upstreamSentAt = e.receivedAt + 200_000 + (i % 7) * 100_000
        e.upstreamFirstByteAt = e.upstreamSentAt + 2_000_000 + (i % 97) * 1_000_000
        e.completedAt = e.upstreamFirstByteAt + 50_000
        e.requestBytes = 200; e.responseBytes = 1_500
        return e
    }

    /// ns per event through `receive` (every family on), batches of 1024 over 100 routes × 4 codes × 10 consumers.
    static func aggregation() {
        guard let (exporter, _) = try? exporter(routes: 100, consumers: 10) else { return }
        let statuses: [UInt16] = [200, 201, 404, 500]
        let batch = (0..<1024).map { i in event(route: i % 100, status: statuses[i % 4], consumer: i % 10, i: UInt64(i)) }
        batch.withUnsafeBufferPointer { exporter.receive($0) }  // warm up: create the series
        let clock = ContinuousClock()
        var samples: [Double] = []
        for _ in 0..<7 {
            let d = clock.measure {
                for _ in 0..<1_000 { batch.withUnsafeBufferPointer { exporter.receive($0) } }
            }
            samples.append(Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9)
        }
        samples.sort()
        print("aggregation, every family on: median \(String(format: "%.0f", samples[3] / 1_024_000)) ns/event (1,024,000 events per run, 7 runs)")
    }

    /// Render time with `routes` routes × 5 codes × 10 consumers of kong_http_requests_total plus histograms and bandwidth.
    static func scrape(routes: Int) async {
        guard let (exporter, _) = try? exporter(routes: routes, consumers: 10) else { return }
        var batch: [RequestEvent] = []
        for r in 0..<routes {
            for (k, code) in ([200, 201, 404, 500, 503] as [UInt16]).enumerated() {
                for c in 0..<10 { batch.append(event(route: r, status: code, consumer: c, i: UInt64(k * 10 + c))) }
            }
        }
        batch.withUnsafeBufferPointer { exporter.receive($0) }
        let clock = ContinuousClock()
        var body: [UInt8] = []
        var renders: [Double] = []
        for _ in 0..<5 {
            let start = clock.now
            body = await exporter.render()
            let d = clock.now - start
            renders.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15)
        }
        renders.sort()
        var zipped: [UInt8] = []
        let g = clock.measure { zipped = Gzip.compress(body) ?? [] }
        let series = body.split(separator: UInt8(ascii: "\n")).filter { $0.first != UInt8(ascii: "#") }.count
        let gzipMs = Double(g.components.seconds) * 1e3 + Double(g.components.attoseconds) / 1e15
        print("| \(series) | \(body.count) | \(String(format: "%.1f", renders[2])) | \(String(format: "%.1f", gzipMs)) | \(zipped.count) |")
    }
}
