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
        // Ports that refuse and stay held (a killed backend's port could be taken by another
        // test's listener meanwhile, and answer).
        let refusing = [RefusingPort(), RefusingPort(), RefusingPort()]
        let gw = try await GatewayHarness(yaml: Self.yaml(refusing.map(\.port), healthchecks: "{passive: {unhealthy: {tcp_failures: 1}}}"))
        defer { Task { await gw.stop() } }
        var last = 0
        for _ in 0..<6 { last = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")).status }
        let r = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(r.status == 503 && r.bodyString.contains("failure to get a peer from the ring-balancer"))
        _ = last
        withExtendedLifetime(refusing) {}
    }

    /// A retry to another target carries that target's Host, as Kong sets the Host for each try.
    @Test func aRetryToAnotherTargetCarriesThatTargetsHost() async throws {
        let refusing = RefusingPort()
        let backend = RawBackend.ok(body: "b")
        let port = try await backend.start(port: 0, host: "127.0.0.2")
        let gw = try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: balanced
                host: pool
                retries: 2
                routes: [{name: main, paths: ["/"]}]
            upstreams:
              - name: pool
                targets:
                  - {target: "127.0.0.1:\(refusing.port)"}
                  - {target: "127.0.0.2:\(port)"}
            """)
        defer { Task { await gw.stop(); await backend.stop() } }
        for _ in 0..<6 { #expect(try await gw.request("GET /x HTTP/1.1\r\nHost: client.test\r\n\r\n")?.status == 200) }
        let hosts = backend.requests.compactMap { request in
            request.split(separator: "\r\n").first { $0.lowercased().hasPrefix("host:") }.map(String.init)
        }
        #expect(hosts.count == 6 && hosts.allSatisfy { $0 == "Host: 127.0.0.2:\(port)" }, "\(hosts)")
        withExtendedLifetime(refusing) {}
    }

    /// Kong's health endpoints: `GET /upstreams/{u}/health` (and `?balancer_health=1`) and the
    /// manual `PUT …/targets/{t}/unhealthy|healthy`, which takes a target out and brings it back.
    @Test func healthEndpointsAndManualOverride() async throws {
        let (backends, ports) = try await Self.backends()
        let gw = try await GatewayHarness(yaml: Self.yaml(ports, healthchecks: "{passive: {unhealthy: {http_failures: 3}}}"))
        defer { Task { await gw.stop(); for b in backends { await b.stop() } } }
        func admin(_ line: String) async throws -> RawClient.Response {
            try #require(try await gw.request("\(line) HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort))
        }
        let health = try await admin("GET /upstreams/pool/health")
        #expect(health.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(health.bodyString.utf8)) as? [String: Any])
        let data = try #require(json["data"] as? [[String: Any]])
        #expect(data.count == 3 && data.allSatisfy { $0["health"] as? String == "HEALTHY" })
        #expect(data[0]["target"] as? String == "127.0.0.1:\(ports[0])" && data[0]["weight"] as? Int == 100)
        #expect(json["node_id"] as? String != nil)

        #expect(try await admin("PUT /upstreams/pool/targets/127.0.0.1:\(ports[1])/unhealthy").status == 204)
        let before = backends[1].requests.count
        for _ in 0..<9 { #expect(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200) }
        #expect(backends[1].requests.count == before)
        let balancer = try await admin("GET /upstreams/pool/health?balancer_health=1")
        let b = try #require(try JSONSerialization.jsonObject(with: Data(balancer.bodyString.utf8)) as? [String: Any])
        let details = try #require((b["data"] as? [String: Any])?["details"] as? [String: Any])
        #expect((b["data"] as? [String: Any])?["balancer_health"] as? String == "HEALTHY")
        #expect((details["weight"] as? [String: Any])?["available"] as? Int == 200)
        #expect((details["weight"] as? [String: Any])?["unavailable"] as? Int == 100)

        #expect(try await admin("PUT /upstreams/pool/targets/127.0.0.1:\(ports[1])/healthy").status == 204)
        for _ in 0..<9 { _ = try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n") }
        #expect(backends[1].requests.count > before)
        #expect(try await admin("GET /upstreams/nope/health").status == 404)
        let text = try await metrics(gw)
        #expect(text.contains("state=\"unhealthy\",check=\"manual\",reason=\"manual\"} 1"))
    }

    /// Weights 100/50/50 give 50/25/25 % of the requests.
    @Test func weightedRoundRobin() async throws {
        let (backends, ports) = try await Self.backends()
        let yaml = Self.yaml(ports, healthchecks: "{}").replacingOccurrences(of: "\(ports[1])\"}", with: "\(ports[1])\", weight: 50}")
            .replacingOccurrences(of: "\(ports[2])\"}", with: "\(ports[2])\", weight: 50}")
        let gw = try await GatewayHarness(yaml: yaml)
        defer { Task { await gw.stop(); for b in backends { await b.stop() } } }
        let client = try await RawClient(port: gw.proxyPort)
        for _ in 0..<400 {
            try await client.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await client.readResponse()
        }
        await client.close()
        #expect(backends.map { $0.requests.count } == [200, 100, 100])
    }
}
