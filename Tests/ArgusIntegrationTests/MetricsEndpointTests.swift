import ArgusCompression
import ArgusApp
import ArgusEvents
import ArgusMetrics
import Foundation
import NIOCore
import Testing

/// Records the status of every event it receives; slow after each batch, so that events are
/// still waiting in the ring when the gateway stops.
final class TallyExporter: EventExporter, @unchecked Sendable {
    let name = "tally"
    private let lock = NSLock()
    private var statuses: [UInt16] = []

    func afterBatch() {
        Thread.sleep(forTimeInterval: 0.1)
    }

    func receive(_ events: UnsafeBufferPointer<RequestEvent>) {
        lock.withLock { statuses += events.map(\.status) }
    }

    var received: [UInt16] { lock.withLock { statuses } }
}

/// `name{labels} value` lines of an exposition, by series.
private func samples(_ text: String) -> [String: Double] {
    var out: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        if let space = line.lastIndex(of: " ") { out[String(line[..<space])] = Double(line[line.index(after: space)...]) }
    }
    return out
}

private func total(_ samples: [String: Double], _ family: String) -> Double {
    samples.filter { $0.key.hasPrefix(family + "{") }.values.reduce(0, +)
}

@Suite("GET /metrics on a running gateway")
struct MetricsEndpointTests {
    @Test(.timeLimit(.minutes(1)))
    func countsEveryRequestWithKongsLabelsOnBothListeners() async throws {
        let backend = RawBackend.ok(body: "hello")
        let port = try await backend.start()
        let refusing = RefusingPort()
        let yaml = """
            _format_version: "3.0"
            services:
              - name: live
                url: http://127.0.0.1:\(port)
                routes: [{name: ok, paths: ["/ok"]}]
              - name: gone
                url: http://127.0.0.1:\(refusing.port)
                retries: 0
                routes: [{name: dead, paths: ["/dead"]}]
            plugins:
              - name: prometheus
                config: {status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true}
            """
        let gw = try await GatewayHarness(yaml: yaml)
        defer { Task { await gw.stop(); await backend.stop() } }

        for _ in 0..<3 { #expect(try await gw.request("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200) }
        #expect(try await gw.request("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 404)
        #expect(try await gw.request("GET /dead HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 502)
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")?.status == 400)

        var m: [String: Double] = [:]
        for _ in 0..<200 {
            let response = try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort))
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            m = samples(response.bodyString)
            if total(m, "kong_http_requests_total") >= 6 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(total(m, "kong_http_requests_total") == 6)
        #expect(m[#"kong_http_requests_total{service="live",route="ok",code="200",source="service",workspace="default",consumer=""}"#] == 3)
        #expect(m[#"kong_http_requests_total{service="",route="",code="404",source="kong",workspace="default",consumer=""}"#] == 1)
        #expect(m[#"kong_http_requests_total{service="gone",route="dead",code="502",source="kong",workspace="default",consumer=""}"#] == 1)
        #expect(m[#"kong_http_requests_total{service="",route="",code="400",source="kong",workspace="default",consumer=""}"#] == 1)
        #expect(m[#"kong_upstream_latency_ms_count{service="live",route="ok",workspace="default"}"#] == 3)
        #expect(total(m, "kong_kong_latency_ms_count") == 6)
        #expect(m["argus_events_published_total"] == 6)
        #expect(m[#"argus_events_dropped_total{exporter="prometheus"}"#] == 0)
        #expect(m["kong_datastore_reachable"] == 1)
        #expect((m["process_resident_memory_bytes"] ?? 0) > 0)
        // Connections: six proxy connections accepted (the scrapes go to another listener).
        #expect(m.first { $0.key.hasPrefix("kong_nginx_connections_total{") && $0.key.contains(#"state="accepted""#) }?.value == 6)

        // The status listener serves the same exposition; gzip when asked; HEAD has no body.
        let status = try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", port: gw.statusPort))
        #expect(status.header("Content-Encoding") == "gzip")
        let inflated = try #require(Gzip.decompress(status.body))
        #expect(total(samples(String(decoding: inflated, as: UTF8.self)), "kong_http_requests_total") == 6)
        let head = try #require(try await gw.request("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.statusPort))
        #expect(head.status == 200 && head.body.isEmpty)
        withExtendedLifetime(refusing) {}
    }

    @Test(.timeLimit(.minutes(1)))
    func gracefulShutdownDeliversEveryEventToEveryExporter() async throws {
        let backend = RawBackend.ok(body: "x")
        let port = try await backend.start()
        let tally = TallyExporter()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port), exporters: [tally])
        for i in 0..<40 {
            let path = i % 4 == 0 ? "HTTP/1.1 /" : "/a"
            _ = try await gw.request("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        }
        await gw.stop()
        await backend.stop()
        let received = tally.received
        #expect(received.count == 40)
        #expect(received.filter { $0 == 200 }.count == 30)
        #expect(received.filter { $0 == 400 }.count == 10)
    }
}
