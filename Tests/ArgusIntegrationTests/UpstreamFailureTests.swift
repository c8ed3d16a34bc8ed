import NIOCore
import NIOPosix
import Testing

@Suite("Upstream failures, timeouts and retries")
struct UpstreamFailureTests {
    @Test func refusedUpstreamIs502PlainText() async throws {
        let refusing = RefusingPort()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: refusing.port, service: "retries: 2"))
        defer { Task { await gw.stop() } }
        let response = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(response.status == 502)
        #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(response.bodyString.hasPrefix("An invalid response was received from the upstream server\nrequest_id: "))
        let json = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n"))
        #expect(json.bodyString.contains("\"message\":\"An invalid response was received from the upstream server\""))
        withExtendedLifetime(refusing) {}
    }

    @Test func readTimeoutIs504() async throws {
        let backend = RawBackend { _ in .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", delayMs: 1500) }
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port, service: "read_timeout: 200\n    retries: 0"))
        defer { Task { await gw.stop(); await backend.stop() } }
        let response = try #require(try await gw.request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
        #expect(response.status == 504)
        #expect(response.bodyString.hasPrefix("The upstream server is timing out"))
    }

    @Test func idempotentRequestIsRetriedOnTimeoutButPostIsNot() async throws {
        let backend = RawBackend { _ in .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", delayMs: 600) }
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port, service: "read_timeout: 150\n    retries: 2"))
        defer { Task { await gw.stop(); await backend.stop() } }
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 504)
        try await Task.sleep(for: .milliseconds(700))
        #expect(backend.requests.count == 3)  // the first try and two retries
        #expect(try await gw.request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")?.status == 504)
        try await Task.sleep(for: .milliseconds(700))
        #expect(backend.requests.count == 4)  // sent once, never again
    }

    @Test func retriesMoveToTheNextTarget() async throws {
        let refusing = RefusingPort()
        let dead = refusing.port
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let yaml = """
            _format_version: "3.0"
            upstreams:
              - name: pool.internal
                targets:
                  - target: 127.0.0.1:\(dead)
                  - target: 127.0.0.1:\(port)
            services:
              - name: svc
                host: pool.internal
                retries: 1
                routes:
                  - name: r
                    paths: ["/"]
            """
        let gw = try await GatewayHarness(yaml: yaml)
        defer { Task { await gw.stop(); await backend.stop() } }
        for _ in 0..<4 {
            #expect(try await gw.request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")?.status == 200)
        }
        #expect(backend.requests.count == 4)
        withExtendedLifetime(refusing) {}
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "garbage\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX A: b\r\n\r\n",
    ])
    func malformedResponseIs502AndTheConnectionIsDropped(_ reply: String) async throws {
        let backend = RawBackend { head in
            head.hasPrefix("GET /good") ? .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") : .init(bytes: reply)
        }
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port, service: "retries: 0"))
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        try await client.send("GET /good HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse()?.status == 200)
        try await client.send("GET /bad HTTP/1.1\r\nHost: x\r\n\r\n")
        let bad = try await client.readResponse()
        // Either a 502, or (when the head was already out) a closed connection.
        #expect(bad == nil || bad?.status == 502 || client.closed)
        await client.close()
        let again = try #require(try await gw.request("GET /good HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(again.status == 200)
        #expect(backend.connectionCount >= 2, "the broken upstream connection must not be reused")
    }

    @Test func aChunkedBodyBrokenInTheFirstReadGivesACleanBadGateway() async throws {
        // Head and a broken chunk (7 declared, 6 sent) arrive together: nothing has reached the
        // client yet, so it gets Kong's 502 rather than a reset in the middle of a 200.
        let backend = RawBackend { _ in .init(bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nabcdef\r\n0\r\n\r\n") }
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port, service: "retries: 0"))
        defer { Task { await gw.stop(); await backend.stop() } }
        let response = try #require(try await gw.request("GET /broken HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(response.status == 502)
    }
}
