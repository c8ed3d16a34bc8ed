import ArgusApp
import ArgusProxy
import NIOCore
import Testing

@Suite("Connect and write timeouts, HTTP/1.0, https-only routes")
struct TimeoutAndProtocolTests {
    /// Without the connect timeout the kernel's SYN retries would take minutes: the time limit
    /// catches that (a hang guard, not a timing assertion).
    @Test(.timeLimit(.minutes(1))) func connectTimeoutIs504() async throws {
        let blackhole = try BlackholeListener()
        let gw = try await GatewayHarness(
            yaml: GatewayHarness.yaml(port: blackhole.port, service: "connect_timeout: 200\n    retries: 1"))
        defer { Task { await gw.stop() } }
        let response = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(response.status == 504)
        #expect(response.bodyString.hasPrefix("The upstream server is timing out"))
        withExtendedLifetime(blackhole) {}
    }

    /// The read timeout is set far beyond the time limit, so only the write timeout can answer in time.
    @Test(.timeLimit(.minutes(1))) func writeTimeoutIs504WhenTheUpstreamStopsReading() async throws {
        // The upstream connection is established but never read: Argus's writes stall once the socket buffers are full.
        let upstream = try BlackholeListener(fillQueue: false)
        let gw = try await GatewayHarness(
            yaml: GatewayHarness.yaml(port: upstream.port, service: "write_timeout: 300\n    read_timeout: 300000\n    retries: 0"))
        defer { Task { await gw.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        let size = 64 << 20
        try await client.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: \(size)\r\n\r\n")
        let chunk = String(repeating: "x", count: 1 << 20)
        // Queue the whole body without waiting for the writes (they stall once the upstream stops reading).
        for _ in 0..<64 { client.sendWithoutWaiting(chunk) }
        let response = try await client.readResponse()
        #expect(response?.status == 504)
        await client.close()
        withExtendedLifetime(upstream) {}
    }

    /// A client that keeps sending header lines, slowly, never finishing its head (slowloris): the
    /// idle timeout never fires, the header timeout does. A head that completes in time is served.
    @Test(.timeLimit(.minutes(1))) func aHeadThatNeverCompletesGets408() async throws {
        let backend = RawBackend.ok(body: "ok")
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port)) {
            $0.proxy.clientHeaderTimeout = .milliseconds(500)
        }
        defer { Task { await gw.stop(); await backend.stop() } }
        let slow = try await RawClient(port: gw.proxyPort)
        try await slow.send("GET / HTTP/1.1\r\nHost: x\r\n")
        // 1.5 s of header lines, one every 50 ms: the idle timeout (60 s) never fires, and without
        // the header timeout no response would ever come (the time limit would end the test).
        for i in 0..<30 {
            try? await slow.send("X-Drip-\(i): y\r\n")
            try await Task.sleep(for: .milliseconds(50))
        }
        let response = try #require(try await slow.readResponse())
        #expect(response.status == 408)
        await slow.close()

        let timely = try await RawClient(port: gw.proxyPort)
        try await timely.send("GET / HTTP/1.1\r\n")
        try await Task.sleep(for: .milliseconds(100))
        try await timely.send("Host: x\r\n\r\n")
        #expect(try await timely.readResponse()?.status == 200)
        await timely.close()
    }

    @Test func http10ClientsGetCloseDelimitedBodiesAndKeepAliveOnRequest() async throws {
        let backend = RawBackend { head in
            head.hasPrefix("GET /chunked")
                ? .init(bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
                : .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }

        let keepAlive = try await RawClient(port: gw.proxyPort)
        try await keepAlive.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let first = try #require(try await keepAlive.readResponse())
        #expect(first.header("Connection") == "keep-alive")
        try await keepAlive.send("GET /b HTTP/1.0\r\n\r\n")
        #expect(try await keepAlive.readResponse()?.status == 200)
        #expect(try await keepAlive.readToEnd() == "")  // closed after the request without keep-alive
        await keepAlive.close()

        let client = try await RawClient(port: gw.proxyPort)
        try await client.send("GET /chunked HTTP/1.0\r\n\r\n")
        let raw = try await client.readToEnd()
        #expect(raw.hasPrefix("HTTP/1.0 200 OK\r\n"))
        #expect(!raw.contains("Transfer-Encoding"))
        #expect(raw.hasSuffix("\r\n\r\nhello"))
        await client.close()
    }

    @Test(arguments: [(426, ""), (301, "https://secure.example/p?q=1"), (308, "https://secure.example/p?q=1")])
    func httpsOnlyRoutesAnswerPerRedirectCode(_ code: Int, _ location: String) async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let route = "paths: [\"/\"]\n        protocols: [https]\n        https_redirect_status_code: \(code)"
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port, route: route))
        defer { Task { await gw.stop(); await backend.stop() } }
        let response = try #require(try await gw.request("GET /p?q=1 HTTP/1.1\r\nHost: secure.example\r\n\r\n"))
        #expect(response.status == code)
        if code == 426 {
            #expect(response.bodyString.contains("Please use HTTPS protocol"))
            #expect(response.header("Upgrade") == "TLS/1.2, HTTP/1.1")
        } else {
            #expect(response.header("Location") == location)
            #expect(response.body.isEmpty)
        }
        #expect(backend.requests.isEmpty)
    }
}
