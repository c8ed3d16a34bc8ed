import ArgusApp
import Foundation
import NIOConcurrencyHelpers
import Testing

@Suite("upstream health checks through a real gateway")
struct UpstreamHealthTests {
    /// Three backends that say which one answered.
    static func backends() async throws -> ([RawBackend], [Int]) {
        var list: [RawBackend] = [], ports: [Int] = []
        for name in ["a", "b", "c"] {
            let backend = RawBackend { head in
                let status = head.hasPrefix("GET /health") ? 200 : 200
                return .init(bytes: "HTTP/1.1 \(status) OK\r\nContent-Length: 1\r\nX-Backend: \(name)\r\n\r\n\(name)")
            }
            ports.append(try await backend.start())
            list.append(backend)
        }
        return (list, ports)
    }

    static func yaml(_ ports: [Int], healthchecks: String) -> String {
        """
        _format_version: "3.0"
        services:
          - name: balanced
            host: pool
            retries: 3
            routes: [{name: main, paths: ["/"]}]
        upstreams:
          - name: pool
            healthchecks: \(healthchecks)
            targets:
              - {target: "127.0.0.1:\(ports[0])"}
              - {target: "127.0.0.1:\(ports[1])"}
              - {target: "127.0.0.1:\(ports[2])"}
        plugins:
          - name: prometheus
            config: {upstream_health_metrics: true}
        """
    }

    func metrics(_ gw: GatewayHarness) async throws -> String {
        try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort)).bodyString
    }

    /// Kill one of three targets under steady traffic: with passive checks and retries no request
    /// fails (the retry goes to another target), and after the threshold the dead one gets no tries.
    @Test func passiveChecksEjectADeadTargetWithoutFailingRequests() async throws {
        let (backends, ports) = try await Self.backends()
        let gw = try await GatewayHarness(yaml: Self.yaml(ports, healthchecks: "{passive: {unhealthy: {tcp_failures: 2}}}"))
        defer { Task { await gw.stop(); for b in backends { await b.stop() } } }

        var statuses: [Int] = []
        for i in 0..<90 {
            if i == 30 { await backends[1].kill() }
            statuses.append(try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")).status)
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses.filter { $0 != 200 })")
        let text = try await metrics(gw)
        #expect(text.contains("kong_upstream_target_health{upstream=\"pool\",target=\"127.0.0.1:\(ports[1])\",address=\"127.0.0.1:\(ports[1])\",state=\"unhealthy\",subsystem=\"http\"} 1"))
        #expect(text.contains("kong_upstream_target_health{upstream=\"pool\",target=\"127.0.0.1:\(ports[0])\",address=\"127.0.0.1:\(ports[0])\",state=\"healthy\",subsystem=\"http\"} 1"))
        #expect(text.contains("argus_upstream_health_transitions_total{upstream=\"pool\",target=\"127.0.0.1:\(ports[1])\",state=\"unhealthy\",check=\"passive\",reason=\"tcp_failures\"} 1"))
        // The survivors shared the traffic after the ejection.
        #expect(backends[0].requests.count >= 40 && backends[2].requests.count >= 40)
        // Passive checks never heal a target by themselves: it stays out even when it is back.
        _ = try await backends[1].start(port: ports[1])
        let before = backends[1].requests.count
        for _ in 0..<12 { _ = try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n") }
        #expect(backends[1].requests.count == before)
    }

    /// Active checks take a dead target out and bring it back when it returns.
    @Test func activeChecksEjectAndRestore() async throws {
        let (backends, ports) = try await Self.backends()
        let checks = "{active: {http_path: /health, timeout: 1, healthy: {interval: 0.2, successes: 2}, unhealthy: {interval: 0.2, tcp_failures: 1, http_failures: 1}}}"
        let gw = try await GatewayHarness(yaml: Self.yaml(ports, healthchecks: checks))
        defer { Task { await gw.stop(); for b in backends { await b.stop() } } }
        func state(_ port: Int) async throws -> String? {
            let text = try await metrics(gw)
            for s in ["healthy", "unhealthy", "healthchecks_off"]
            where text.contains("target=\"127.0.0.1:\(port)\",address=\"127.0.0.1:\(port)\",state=\"\(s)\",subsystem=\"http\"} 1") {
                return s
            }
            return nil
        }
        #expect(try await state(ports[2]) == "healthy")
        await backends[2].kill()
        var out = false
        for _ in 0..<50 where !out {
            out = try await state(ports[2]) == "unhealthy"
            if !out { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(out, "the dead target is taken out")
        let before = backends[0].requests.count + backends[1].requests.count
        for _ in 0..<10 { #expect(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200) }
        #expect(backends[0].requests.count + backends[1].requests.count - before >= 10)
        #expect(backends[0].requests.contains { $0.hasPrefix("GET /health HTTP/1.1") })

        _ = try await backends[2].start(port: ports[2])
        var back = false
        for _ in 0..<50 where !back {
            back = try await state(ports[2]) == "healthy"
            if !back { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(back, "active checks bring it back")
        let served = backends[2].requests.filter { $0.hasPrefix("GET /x") }.count
        for _ in 0..<9 { _ = try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n") }
        #expect(backends[2].requests.filter { $0.hasPrefix("GET /x") }.count > served)
        let text = try await metrics(gw)
        #expect(text.contains("check=\"active\",reason=\"successes\"} 1"))
    }

    /// Every target down: Kong's 503.
    @Test func noHealthyTargetIs503() async throws {
        let (backends, ports) = try await Self.backends()
        let gw = try await GatewayHarness(yaml: Self.yaml(ports, healthchecks: "{passive: {unhealthy: {tcp_failures: 1}}}"))
        defer { Task { await gw.stop(); for b in backends { await b.stop() } } }
        for b in backends { await b.kill() }
        var last = 0
        for _ in 0..<6 { last = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")).status }
        let r = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(r.status == 503 && r.bodyString.contains("failure to get a peer from the ring-balancer"))
        _ = last
    }
}
