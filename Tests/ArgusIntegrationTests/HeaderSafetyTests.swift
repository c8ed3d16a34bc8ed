import Foundation
import ArgusApp
import NIOCore
import ArgusProxy
import Testing

/// Header handling that protects upstreams: injection, smuggling through hop-by-hop tricks,
/// and spoofable names.
@Suite("Header safety")
struct HeaderSafetyTests {
    @Test func decodedCRLFInAStrippedRegexPrefixCanNotInjectHeaders() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port, route: "paths: [\"~/v1/[^/]+\"]"))
        defer { Task { await gw.stop(); await backend.stop() } }
        let response = try #require(
            try await gw.request("GET /v1/a%0d%0aX-Injected:%201%0d%0a/x HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(response.status == 200)
        let upstream = try #require(backend.requests.first)
        #expect(!upstream.contains("\r\nX-Injected"), "CRLF reached the upstream head: \(upstream)")
        #expect(upstream.contains("X-Forwarded-Prefix: /v1/a%0D%0AX-Injected:%201%0D%0A"))
    }

    @Test func onlyHEADItselfSuppressesTheResponseBody() async throws {
        let backend = RawBackend.ok(body: "body!")
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        try await client.send("HACK / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse()?.bodyString == "body!")
        try await client.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try #require(try await client.readResponse(isHEAD: true))
        #expect(head.body.isEmpty)
        #expect(head.header("Content-Length") == "5")
        await client.close()
    }

    @Test func headersWithUnderscoresAreDropped() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }
        _ = try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nX_Real_IP: 6.6.6.6\r\nX_Forwarded_For: 6.6.6.6\r\nX-Ok: 1\r\n\r\n")
        let upstream = try #require(backend.requests.first)
        #expect(!upstream.contains("6.6.6.6"))
        #expect(upstream.contains("X-Ok: 1"))
    }

    @Test func connectionCanNotNominateFramingHeadersAway() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        try await client.send("POST / HTTP/1.1\r\nHost: x\r\nConnection: content-length, accept\r\nAccept: a\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try await client.readResponse()?.status == 200)
        await client.close()
        let upstream = try #require(backend.requests.first)
        #expect(upstream.contains("Content-Length: 5"))
        #expect(!upstream.contains("Accept: a"))
        #expect(backend.bodySizes == [5])
    }

    @Test func trustedPeersKeepTheirForwardedHeaders() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port)) { settings in
            settings.proxy.trustedIPs = try! .init(parsing: "127.0.0.0/8")
        }
        defer { Task { await gw.stop(); await backend.stop() } }
        _ = try await gw.request(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: public.example\r\nX-Real-IP: 198.51.100.7\r\n\r\n")
        let upstream = try #require(backend.requests.first)
        #expect(upstream.contains("X-Forwarded-Proto: https"))
        #expect(upstream.contains("X-Forwarded-Host: public.example"))
        #expect(upstream.contains("X-Real-IP: 198.51.100.7"))
        #expect(!upstream.contains("X-Forwarded-Proto: http\r\n"))
    }

    /// A `proxy_protocol` listener behind a trusted balancer with `real_ip_header proxy_protocol`:
    /// the client is the one the header names (v1 text or v2 binary), for every request of the
    /// connection; a connection without a header is closed and counted.
    @Test func aProxyProtocolListenerTakesTheClientFromTheHeader() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port)) { settings in
            settings.proxyListen.proxyProtocol = true
            settings.proxy.trustedIPs = try! .init(parsing: "127.0.0.1")
            settings.proxy.realIP = RealIPSettings(header: "proxy_protocol")
        }
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        try await client.send("PROXY TCP4 203.0.113.7 127.0.0.1 56324 8000\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse()?.status == 200)
        try await client.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse()?.status == 200)
        await client.close()
        #expect(backend.requests.count == 2 && backend.requests.allSatisfy { $0.contains("X-Real-IP: 203.0.113.7\r\n") })
        // version 2, TCP over IPv4
        let v2 = ByteBuffer(bytes: [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 12,
                                    198, 51, 100, 9, 127, 0, 0, 1, 0x1F, 0x90, 0x1F, 0x40] + Array("GET /c HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let second = try await RawClient(port: gw.proxyPort)
        try await second.send(v2)
        #expect(try await second.readResponse()?.status == 200)
        await second.close()
        #expect(backend.requests.last?.contains("X-Real-IP: 198.51.100.9\r\n") == true)
        // no header: closed, nothing proxied
        let bare = try await RawClient(port: gw.proxyPort)
        try await bare.send("GET /d HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await bare.readResponse() == nil)
        await bare.close()
        #expect(backend.requests.count == 3)
    }

    /// Behind a load balancer that sends X-Forwarded-For (`real_ip_header X-Forwarded-For`,
    /// `real_ip_recursive on`): the client's address is the last one not trusted, and it is what
    /// the upstream's X-Real-IP and the end of its X-Forwarded-For say (nginx's `$remote_addr`
    /// after realip), what ip-restriction judges and what the log records as `client_ip`.
    @Test func behindALoadBalancerTheClientAddressComesFromXForwardedFor() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("realip-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let yaml = GatewayHarness.yaml(port: port, extra: """
            plugins:
              - name: ip-restriction
                config: {deny: [203.0.113.66]}
              - name: file-log
                config: {path: \(log)}
            """)
        let gw = try await GatewayHarness(yaml: yaml) { settings in
            settings.proxy.trustedIPs = try! .init(parsing: "127.0.0.0/8, 10.0.0.0/8")
            settings.proxy.realIP = RealIPSettings(header: "X-Forwarded-For", recursive: true)
        }
        defer { Task { await gw.stop(); await backend.stop() } }
        let ok = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.7, 10.0.0.5\r\n\r\n"))
        #expect(ok.status == 200)
        let upstream = try #require(backend.requests.first)
        #expect(upstream.contains("X-Real-IP: 198.51.100.7\r\n"))
        #expect(upstream.contains("X-Forwarded-For: 198.51.100.7, 10.0.0.5, 198.51.100.7\r\n"))
        let denied = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.66\r\n\r\n"))
        #expect(denied.status == 403 && denied.bodyString.contains("IP address not allowed: 203.0.113.66"))
        var lines: [String] = []
        for _ in 0..<50 {
            lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            if lines.count >= 2 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(lines.count == 2 && lines[0].contains("\"client_ip\":\"198.51.100.7\"") && lines[1].contains("\"client_ip\":\"203.0.113.66\""))
    }
}
