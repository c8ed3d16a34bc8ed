import ArgusConfig
import ArgusEvents
import ArgusMetrics
import Testing

@Suite("OpenMetrics exposition and trace exemplars")
struct OpenMetricsTests {
    /// Publishes `events` on the fixture's ring (with a trace in the details when `trace` is set)
    /// and hands them to the exporter as the runner would.
    func publish(_ f: Fixture, _ events: [(RequestEvent, RequestDetail.TraceIDs?)]) {
        let consumer = f.ring.makeConsumer(name: "test")
        let producer = f.ring.producer(lane: 0)
        for (event, trace) in events {
            var e = event
            guard let trace else {
                producer.publish(e)
                continue
            }
            e.hasSampledTrace = trace.sampled
            var detail: [UInt8] = []
            let head = Array("GET /orders HTTP/1.1\r\nhost: x\r\n\r\n".utf8)
            head.withUnsafeBytes { h in
                RequestDetail.encode(
                    requestHead: h, upstreamTarget: UnsafeRawBufferPointer(start: nil, count: 0),
                    responseHead: UnsafeRawBufferPointer(start: nil, count: 0), tries: [], serverPort: 8000, trace: trace, into: &detail)
            }
            detail.withUnsafeBytes { producer.publish(e, detail: $0) }
        }
        _ = consumer.drain { f.exporter.receive($0) }
    }

    static func ids(_ low: UInt64, sampled: Bool = true) -> RequestDetail.TraceIDs {
        RequestDetail.TraceIDs(traceHigh: 0x0AF7_6519_16CD_43DD, traceLow: low, parentSpanID: 0, spanID: 1, upstreamSpanID: 2, sampled: sampled, plugin: 1)
    }

    @Test func sampledRequestsAreTheirBucketsExemplars() async throws {
        let f = try Fixture(shopYAML)
        // total 2.6 ms → le=25; 40.6 ms → le=50: each bucket keeps its latest traced request
        publish(f, [
            (event(gatewayMicros: 500, upstreamMicros: 2_000), Self.ids(0x8448_EB21_1C80_3191)),
            (event(gatewayMicros: 500, upstreamMicros: 2_000), Self.ids(0x8448_EB21_1C80_3192)),
            (event(gatewayMicros: 500, upstreamMicros: 40_000), Self.ids(0x8448_EB21_1C80_3193)),
            (event(gatewayMicros: 500, upstreamMicros: 40_000), nil),
            (event(gatewayMicros: 500, upstreamMicros: 70_000), Self.ids(0x8448_EB21_1C80_3194, sampled: false)),
        ])
        let text = String(decoding: await f.exporter.render(openMetrics: true), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        func bucket(_ family: String, _ le: String) -> String? {
            lines.first { $0.hasPrefix("\(family)_bucket{service=\"orders\",route=\"orders-list\",workspace=\"default\",le=\"\(le)\"}") }
        }
        #expect(bucket("kong_request_latency_ms", "25")?.contains(#" # {trace_id="0af7651916cd43dd8448eb211c803192"} 2.6 "#) == true)
        #expect(bucket("kong_request_latency_ms", "50")?.contains(#" # {trace_id="0af7651916cd43dd8448eb211c803193"} 40.6 "#) == true)
        #expect(bucket("kong_upstream_latency_ms", "25")?.contains(#"{trace_id="0af7651916cd43dd8448eb211c803192"} 2 "#) == true)
        #expect(bucket("kong_kong_latency_ms", "1")?.contains(#"{trace_id="0af7651916cd43dd8448eb211c803193"} 0.5 "#) == true)  // the latest
        // an unsampled request is no exemplar; a bucket without a traced request has none
        #expect(!text.contains("c803194"))
        #expect(bucket("kong_request_latency_ms", "80")?.contains("#") == false)
        // the exemplar's timestamp: seconds with milliseconds
        let stamp = bucket("kong_request_latency_ms", "25")?.split(separator: " ").last.map(String.init) ?? ""
        #expect(stamp.split(separator: ".").map(\.count) == [stamp.split(separator: ".").first?.count ?? 0, 3])
        // the text format has no exemplars
        let plain = String(decoding: await f.exporter.render(), as: UTF8.self)
        #expect(!plain.contains("trace_id") && !plain.contains("# EOF"))
    }

    @Test func theOpenMetricsRulesAreKept() async throws {
        let f = try Fixture(shopYAML)
        publish(f, [(event(route: 0), nil), (event(route: 1), nil)])
        let text = String(decoding: await f.exporter.render(openMetrics: true), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.last == "# EOF")
        // a counter's family is named without `_total`; its samples keep it; a counter not named so is `unknown`
        #expect(lines.contains("# TYPE kong_http_requests counter"))
        #expect(lines.contains { $0.hasPrefix("kong_http_requests_total{") })
        #expect(lines.contains("# TYPE kong_bandwidth_bytes unknown"))
        #expect(lines.contains("# TYPE kong_nginx_connections_total gauge"))
        // a histogram's lines go series by series: buckets, count, sum
        let family = lines.filter { $0.hasPrefix("kong_request_latency_ms_") }
        let kinds = family.map { $0.hasPrefix("kong_request_latency_ms_bucket") ? "b" : $0.hasPrefix("kong_request_latency_ms_count") ? "c" : "s" }
        let perSeries = Array(repeating: "b", count: 14) + ["c", "s"]
        #expect(kinds == perSeries + perSeries)
    }
}
