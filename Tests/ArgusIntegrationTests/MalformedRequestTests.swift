import Testing

/// Request-smuggling vectors and other malformed requests: each gets a 4xx and none reaches the upstream.
private let malformedCases: [(name: String, raw: String, status: Int)] = [
        ("CL and TE together", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("duplicate Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("differing Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("Content-Length with sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400),
        ("Content-Length hex", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\n\r\nabc", 400),
        ("Content-Length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
        ("TE not chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("TE chunked then gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501),
        ("TE obfuscated", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 501),
        ("TE twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        ("TE in HTTP/1.0", "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n", 400),
        ("space before colon on TE", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n continued\r\n\r\n", 400),
        ("bare LF line ending", "GET / HTTP/1.1\nHost: x\n\n", 400),
        ("bare CR in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
        ("NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n", 400),
        ("missing Host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("invalid Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ("bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
        ("chunk size with 0x", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 400),
        ("request line in the trailer section",
         "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("chunk LF only", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400),
        ("bad request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("unknown version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("garbage version", "GET / FOO/1.1\r\nHost: x\r\n\r\n", 400),
        ("header name with slash", "GET / HTTP/1.1\r\nHost: x\r\nX/A: 1\r\n\r\n", 400),
        ("unsupported Expect", "GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", 417),
        ("URI too long", "GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        ("headers too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 40000))\r\n\r\n", 431),
        ("bad percent-encoding", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ]

@Suite("Malformed requests are rejected before any upstream sees them")
struct MalformedRequestTests {
    @Test(arguments: 0..<malformedCases.count)
    func rejected(_ index: Int) async throws {
        let (name, raw, status) = malformedCases[index]
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        try await client.send(raw)
        let response = try await client.readResponse()
        #expect(response?.status == status, "\(name)")
        // Nothing reached the upstream, and a smuggled second request was not answered.
        let rest = try await client.readToEnd()
        #expect(!rest.contains("HTTP/1.1 200"), "\(name): a second response followed")
        #expect(backend.requests.isEmpty, "\(name): reached the upstream")
        await client.close()
    }

    /// nginx refuses TRACE before any phase (Kong's error handler words the 405); the connection
    /// stays usable.
    @Test func traceIs405AndNeverReachesTheUpstream() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        try await client.send("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try #require(try await client.readResponse())
        #expect(response.status == 405 && response.bodyString.hasPrefix("Method not allowed"))
        try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse()?.status == 200)
        #expect(backend.requests.count == 1)
        await client.close()
    }
}
