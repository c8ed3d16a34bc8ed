import ArgusApp
import ArgusConfig
import ArgusEvents
import ArgusProxy
import Foundation
import NIOConcurrencyHelpers
import Testing

/// A wall clock the test moves by hand (ms since the epoch).
final class ManualClock: Sendable {
    private let now: NIOLockedValueBox<Int64>
    init(_ start: Int64) { now = NIOLockedValueBox(start) }
    func advance(ms: Int64) { now.withLockedValue { $0 += ms } }
    var read: @Sendable () -> Int64 { { [now] in now.withLockedValue { $0 } } }
}

@Suite("rate-limiting through a real gateway")
struct RateLimitingTests {
    /// 2023-11-14T22:14:00Z, the start of a minute.
    static let t0: Int64 = 1_700_000_040_000

    static func gateway(port: Int, plugin: String, clock: ManualClock, routeExtra: String = "") async throws -> GatewayHarness {
        let yaml = """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes:
                  - name: main
                    paths: ["/"]
            plugins:
              - name: rate-limiting
                config: \(plugin)
            """
        return try await GatewayHarness(yaml: yaml) { $0.proxy.wallClockMilliseconds = clock.read }
    }

    /// The seed scenario: a global `minute: 5` passes requests 1–5 and answers the 6th with 429,
    /// Kong's body and headers; the upstream sees 5 requests.
    @Test func globalMinuteLimitOfFive() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0 + 20_000)
        let gw = try await Self.gateway(port: port, plugin: "{minute: 5, policy: local}", clock: clock)
        defer { Task { await gw.stop(); await backend.stop() } }

        for i in 1...5 {
            let r = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(r.status == 200)
            #expect(r.header("X-RateLimit-Limit-Minute") == "5")
            #expect(r.header("X-RateLimit-Remaining-Minute") == String(5 - i))
            #expect(r.header("RateLimit-Limit") == "5")
            #expect(r.header("RateLimit-Remaining") == String(5 - i))
            #expect(r.header("RateLimit-Reset") == "40")
            #expect(r.header("Retry-After") == nil)
        }
        let r = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(r.status == 429)
        let id = try #require(r.header("X-Kong-Request-Id"))
        #expect(r.bodyString == "{\n  \"message\":\"API rate limit exceeded\",\n  \"request_id\":\"\(id)\"\n}")
        #expect(r.header("Content-Type") == "application/json; charset=utf-8")
        #expect(r.header("Retry-After") == "40")
        #expect(r.header("X-RateLimit-Remaining-Minute") == "0")
        #expect(r.header("RateLimit-Remaining") == "0")
        #expect(r.header("RateLimit-Reset") == "40")
        #expect(backend.requests.count == 5)

        // The next minute opens a new window.
        clock.advance(ms: 40_000)
        let next = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(next.status == 200 && next.header("X-RateLimit-Remaining-Minute") == "4")
    }

    /// N concurrent clients against a limit L: exactly L admitted, and the remaining counts seen
    /// are exactly L-1 … 0, each once.
    @Test func exactUnderConcurrentClients() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0)
        let gw = try await Self.gateway(port: port, plugin: "{minute: 40}", clock: clock)
        defer { Task { await gw.stop(); await backend.stop() } }

        let results = try await withThrowingTaskGroup(of: [(Int, String?)].self) { group in
            for _ in 0..<16 {
                group.addTask {
                    let client = try await RawClient(port: gw.proxyPort)
                    var seen: [(Int, String?)] = []
                    for _ in 0..<6 {
                        try await client.send("GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
                        let r = try #require(try await client.readResponse())
                        seen.append((r.status, r.header("X-RateLimit-Remaining-Minute")))
                    }
                    await client.close()
                    return seen
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let admitted = results.filter { $0.0 == 200 }
        #expect(admitted.count == 40)
        #expect(results.filter { $0.0 == 429 }.count == 16 * 6 - 40)
        #expect(admitted.compactMap { $0.1.flatMap { Int($0) } }.sorted() == Array(0..<40))
        #expect(backend.requests.count == 40)
    }

    @Test func windowsRollOverAtCalendarBoundaries() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0 + 59_998)  // 2 ms before the minute turns
        let gw = try await Self.gateway(port: port, plugin: "{second: 2, minute: 3}", clock: clock)
        defer { Task { await gw.stop(); await backend.stop() } }
        func get() async throws -> RawClient.Response { try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) }

        #expect(try await get().status == 200)
        #expect(try await get().status == 200)
        let third = try await get()
        #expect(third.status == 429)
        #expect(third.header("Retry-After") == "1")
        #expect(third.header("X-RateLimit-Remaining-Second") == "0")
        #expect(third.header("X-RateLimit-Remaining-Minute") == "1")
        clock.advance(ms: 2)  // a new second and a new minute
        let fresh = try await get()
        #expect(fresh.status == 200)
        #expect(fresh.header("X-RateLimit-Remaining-Second") == "1" && fresh.header("X-RateLimit-Remaining-Minute") == "2")
        // The most restrictive window: second (1 left) over minute (2 left).
        #expect(fresh.header("RateLimit-Limit") == "2" && fresh.header("RateLimit-Reset") == "1")
    }

    @Test func customAnswerHiddenHeadersAndLimitByHeader() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0)
        let plugin = "{second: 1, limit_by: header, header_name: X-Tenant, hide_client_headers: true, error_code: 503, error_message: slow down}"
        let gw = try await Self.gateway(port: port, plugin: plugin, clock: clock)
        defer { Task { await gw.stop(); await backend.stop() } }

        let a1 = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nX-Tenant: a\r\n\r\n"))
        #expect(a1.status == 200 && a1.header("X-RateLimit-Limit-Second") == nil && a1.header("RateLimit-Limit") == nil)
        let a2 = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nX-Tenant: a\r\nAccept: text/plain\r\n\r\n"))
        #expect(a2.status == 503)
        #expect(a2.bodyString.hasPrefix("slow down\nrequest_id: "))
        #expect(a2.header("Retry-After") == nil && a2.header("RateLimit-Remaining") == nil)  // hidden, Retry-After too (Kong)
        // Another tenant has its own counter; without the header the client's address is the key.
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nX-Tenant: b\r\n\r\n")?.status == 200)
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200)
    }

    /// `limit_by: ip` behind a trusted load balancer (`real_ip_header X-Forwarded-For`): each
    /// client behind it has its own counter, the balancer's own address none.
    @Test func limitByIPCountsTheClientBehindATrustedBalancer() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0)
        let gw = try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes: [{name: main, paths: ["/"]}]
            plugins:
              - name: rate-limiting
                config: {minute: 1, limit_by: ip}
            """) { settings in
            settings.proxy.wallClockMilliseconds = clock.read
            settings.proxy.trustedIPs = try! .init(parsing: "127.0.0.1")
            settings.proxy.realIP = RealIPSettings(header: "X-Forwarded-For")
        }
        defer { Task { await gw.stop(); await backend.stop() } }
        func get(_ client: String) async throws -> Int? {
            try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: \(client)\r\n\r\n")?.status
        }
        #expect(try await get("198.51.100.1") == 200)
        #expect(try await get("198.51.100.2") == 200)
        #expect(try await get("198.51.100.1") == 429)
        #expect(try await get("198.51.100.3") == 200)
    }

    /// A rejection is an event: gateway-made, rate_limited, naming the plugin and the window.
    @Test func rejectionsAreEvents() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0)
        let gw = try await Self.gateway(port: port, plugin: "{hour: 1}", clock: clock)
        defer { Task { await gw.stop(); await backend.stop() } }
        let consumer = gw.gateway.events.makeConsumer(name: "test")

        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200)
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 429)
        var events: [RequestEvent] = []
        for _ in 0..<100 where events.count < 2 {
            _ = consumer.drain(max: 16) { events += $0 }
            if events.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
        }
        try #require(events.count == 2)
        #expect(events[0].status == 200 && events[0].plugin == -1 && events[0].decision == .none)
        #expect(events[1].status == 429 && events[1].source == .gateway && events[1].decision == .rateLimited)
        #expect(events[1].plugin == 0 && events[1].reason == 3)  // the hour window
        #expect(events[1].route == 0 && events[1].service == 0)
    }

    /// The request body of a rejected request is read and dropped: the connection stays usable.
    @Test func rejectedRequestBodyIsDrained() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0)
        let gw = try await Self.gateway(port: port, plugin: "{second: 1}", clock: clock)
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        try await client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        #expect(try await client.readResponse()?.status == 200)
        try await client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try await client.readResponse()?.status == 429)
        clock.advance(ms: 1000)
        try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse()?.status == 200)
        await client.close()
        #expect(backend.requests.count == 2)
    }

    /// Gateway-made 429s in /metrics: Argus's own family (always on) and Kong's requests family
    /// with `source="kong"` apart from the upstream's (`source="service"`).
    @Test func rejectionsAreCountedInMetrics() async throws {
        let backend = RawBackend { _ in .init(bytes: "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n") }
        let port = try await backend.start()
        let clock = ManualClock(Self.t0)
        let yaml = """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes:
                  - name: main
                    paths: ["/"]
            plugins:
              - name: rate-limiting
                instance_name: per-minute
                config: {minute: 2, limit_by: ip}
              - name: prometheus
                config: {status_code_metrics: true}
            """
        let gw = try await GatewayHarness(yaml: yaml) { $0.proxy.wallClockMilliseconds = clock.read }
        defer { Task { await gw.stop(); await backend.stop() } }
        for _ in 0..<5 { _ = try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n") }

        let expected = [
            "argus_ratelimit_rejections_total{service=\"backend\",route=\"main\",plugin=\"per-minute\",limit_by=\"ip\",period=\"minute\"} 3",
            "kong_http_requests_total{service=\"backend\",route=\"main\",code=\"429\",source=\"kong\",workspace=\"default\",consumer=\"\"} 3",
            "kong_http_requests_total{service=\"backend\",route=\"main\",code=\"429\",source=\"service\",workspace=\"default\",consumer=\"\"} 2",
        ]
        var text = ""
        for _ in 0..<100 {
            text = try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort)).bodyString
            if expected.allSatisfy(text.contains) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        for line in expected { #expect(text.contains(line), "\(line)") }
        #expect(!text.contains("argus_ratelimit_store_errors_total{"))
    }

    /// `GET /rate-limiting/usage`: the counters and remaining quota of one identifier, per window.
    @Test func usageEndpointShowsCountersWithoutCounting() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0 + 15_000)
        let yaml = """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes:
                  - name: main
                    paths: ["/"]
            plugins:
              - name: rate-limiting
                instance_name: tiers
                config: {minute: 5, hour: 100, limit_by: header, header_name: X-Tenant}
            """
        let gw = try await GatewayHarness(yaml: yaml) { $0.proxy.wallClockMilliseconds = clock.read }
        defer { Task { await gw.stop(); await backend.stop() } }
        for _ in 0..<3 { _ = try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nX-Tenant: acme\r\n\r\n") }

        func usage(_ query: String) async throws -> RawClient.Response {
            try #require(try await gw.request("GET /rate-limiting/usage?\(query) HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort))
        }
        let id = gw.gateway.currentConfig.plugins[0].id
        let expected = "{\"plugin\":{\"id\":\"\(id)\",\"instance_name\":\"tiers\",\"policy\":\"local\",\"limit_by\":\"header\",\"algorithm\":\"fixed\"},"
            + "\"identifier\":\"acme\",\"usage\":{\"minute\":{\"limit\":5,\"used\":3,\"remaining\":2,\"reset\":45},"
            + "\"hour\":{\"limit\":100,\"used\":3,\"remaining\":97,\"reset\":\(3600 - (Self.t0 / 1000 + 15) % 3600)}}}"
        let byName = try await usage("plugin=tiers&identifier=acme")
        #expect(byName.status == 200)
        #expect(byName.bodyString == expected)
        // Reading does not count; by id works too.
        #expect(try await usage("plugin=\(id)&identifier=acme").bodyString == expected)
        #expect(try await usage("plugin=tiers&identifier=other").bodyString.contains("\"minute\":{\"limit\":5,\"used\":0,\"remaining\":5"))
        #expect(try await usage("plugin=nope&identifier=acme").status == 404)
        #expect(try await usage("plugin=tiers").status == 400)
        #expect(try await usage("identifier=acme").status == 400)
    }
}
