import Foundation
import Testing

@Suite("Proxying through a real gateway on loopback")
struct ProxyBasicsTests {
    @Test func proxiesAGetAndAddsKongHeaders() async throws {
        let backend = RawBackend.ok(body: "hello")
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }

        let response = try #require(try await gw.request("GET /a/b?x=1 HTTP/1.1\r\nHost: example.test\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n"))
        #expect(response.status == 200)
        #expect(response.bodyString == "hello")
        #expect(response.header("X-Backend") == "raw")
        #expect(response.header("Via") == "1.1 argus/0.1.0")
        #expect(response.header("X-Kong-Upstream-Latency") != nil)
        #expect(response.header("X-Kong-Proxy-Latency") != nil)
        let requestID = try #require(response.header("X-Kong-Request-Id"))
        #expect(requestID.count == 32 && requestID.allSatisfy { $0.isHexDigit && !$0.isUppercase })

        let upstream = try #require(backend.requests.first)
        let lines = upstream.components(separatedBy: "\r\n")
        #expect(lines[0] == "GET /a/b?x=1 HTTP/1.1")
        #expect(lines.contains("Host: 127.0.0.1:\(port)"))
        #expect(lines.contains("X-Forwarded-For: 203.0.113.9, 127.0.0.1"))
        #expect(lines.contains("X-Forwarded-Proto: http"))
        #expect(lines.contains("X-Forwarded-Host: example.test"))
        #expect(lines.contains("X-Forwarded-Port: \(gw.proxyPort)"))
        #expect(lines.contains("X-Forwarded-Path: /a/b"))
        #expect(lines.contains("X-Real-IP: 127.0.0.1"))
        #expect(lines.contains("Via: 1.1 argus/0.1.0"))
        #expect(lines.contains("X-Kong-Request-Id: \(requestID)"))
    }

    @Test func noRouteGivesKongs404() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port, route: "paths: [\"/api\"]"))
        defer { Task { await gw.stop(); await backend.stop() } }

        let response = try #require(try await gw.request("GET /other HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(response.status == 404)
        #expect(response.header("Content-Type") == "application/json; charset=utf-8")
        let id = try #require(response.header("X-Kong-Request-Id"))
        #expect(response.bodyString == "{\n  \"message\":\"no Route matched with those values\",\n  \"request_id\":\"\(id)\"\n}")
        #expect(response.header("X-Kong-Response-Latency") != nil)
        #expect(backend.requests.isEmpty)
    }

    @Test func stripPathAndServicePathAreJoined() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let yaml = """
            _format_version: "3.0"
            services:
              - name: api
                url: http://127.0.0.1:\(port)/api
                routes:
                  - name: foo
                    paths: ["/foo"]
            """
        let gw = try await GatewayHarness(yaml: yaml)
        defer { Task { await gw.stop(); await backend.stop() } }
        for (path, expected) in [("/foo/bar", "/api/bar"), ("/foo", "/api"), ("/foobar", "/api/bar")] {
            let response = try #require(try await gw.request("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(response.status == 200)
            #expect(backend.requests.last?.hasPrefix("GET \(expected) HTTP/1.1") == true, "\(path)")
        }
        #expect(backend.requests.last?.contains("X-Forwarded-Prefix: /foo") == true)
    }

    @Test func keepAliveReusesBothConnections() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        for i in 0..<20 {
            try await client.send("GET /\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try #require(try await client.readResponse())
            #expect(response.status == 200)
        }
        // Pipelined requests are answered in order.
        try await client.send("GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse()?.status == 200)
        #expect(try await client.readResponse()?.status == 200)
        await client.close()
        #expect(backend.requests.count == 22)
        #expect(backend.connectionCount == 1)
    }

    @Test func hopByHopHeadersAreRemovedBothWays() async throws {
        let backend = RawBackend { _ in
            .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Up-Secret\r\nX-Up-Secret: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: yes\r\n\r\nok")
        }
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }
        let response = try #require(
            try await gw.request(
                "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nProxy-Connection: x\r\nTE: trailers\r\nUpgrade: h2c\r\nX-Normal: n\r\n\r\n"))
        #expect(response.status == 200)
        #expect(response.header("X-Up-Secret") == nil)
        #expect(response.header("Keep-Alive") == nil)
        #expect(response.header("X-Kept") == "yes")
        let upstream = try #require(backend.requests.first).lowercased()
        for leaked in ["x-secret", "proxy-connection", "te:", "upgrade"] {
            #expect(!upstream.contains(leaked), "\(leaked) leaked upstream")
        }
        #expect(upstream.contains("x-normal: n"))
        #expect(upstream.contains("connection: keep-alive"))
    }

    @Test func preserveHostSendsTheClientsHost() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port, route: "paths: [\"/\"]\n        preserve_host: true"))
        defer { Task { await gw.stop(); await backend.stop() } }
        _ = try await gw.request("GET / HTTP/1.1\r\nHost: client.example:8080\r\n\r\n")
        #expect(backend.requests.first?.contains("\r\nHost: client.example:8080\r\n") == true)
        // An absolute-form target names the host; the Host header does not override it.
        _ = try await gw.request("GET http://target.example/x HTTP/1.1\r\nHost: other.example\r\n\r\n")
        #expect(backend.requests.last?.contains("\r\nHost: target.example\r\n") == true)
    }
}
