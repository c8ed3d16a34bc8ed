import ArgusApp
import ArgusConfig
import ArgusProxy
import Foundation
import NIOConcurrencyHelpers
import Testing

@Suite("proxy-cache through a real gateway")
struct ProxyCacheTests {
    static func json(_ body: String, extra: String = "", status: String = "200 OK", type: String = "application/json") -> RawBackend.Reply {
        RawBackend.Reply(bytes: "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)")
    }

    static func gateway(
        _ port: Int, config: String = "{}", clock: NIOLockedValueBox<Int64>? = nil, budget: Int? = nil
    ) async throws -> GatewayHarness {
        try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes: [{name: main, paths: ["/"]}]
            plugins:
              - name: proxy-cache
                config: \(config)
            """) { settings in
            if let clock { settings.proxy.wallClockMilliseconds = { clock.withLockedValue { $0 } } }
            if let budget { settings.proxy.proxyCacheBytes = budget }
        }
    }

    func get(_ gw: GatewayHarness, _ path: String, _ extra: String = "") async throws -> RawClient.Response {
        try #require(try await gw.request("GET \(path) HTTP/1.1\r\nHost: x\r\n\(extra)\r\n"))
    }

    @Test func missThenHitWithAgeAndKey() async throws {
        let backend = RawBackend { head in Self.json("{\"path\":\"\(head.split(separator: " ")[1])\"}", extra: "X-Origin: 1\r\n") }
        let port = try await backend.start()
        let clock = NIOLockedValueBox<Int64>(1_700_000_000_000)
        let gw = try await Self.gateway(port, config: "{storage_ttl: 600}", clock: clock)
        defer { Task { await gw.stop(); await backend.stop() } }
        let first = try await get(gw, "/a?x=1")
        #expect(first.status == 200 && first.header("X-Cache-Status") == "Miss")
        let key = try #require(first.header("X-Cache-Key"))
        #expect(key.count == 64 && key.allSatisfy(\.isHexDigit))
        clock.withLockedValue { $0 += 7_000 }
        let second = try await get(gw, "/a?x=1")
        #expect(second.status == 200 && second.header("X-Cache-Status") == "Hit" && second.header("X-Cache-Key") == key)
        #expect(second.header("Age") == "7" && second.bodyString == "{\"path\":\"/a?x=1\"}" && second.header("X-Origin") == "1")
        // proxy-cache marks a hit proxied: Kong's upstream and proxy latencies, not its response latency
        #expect(second.header("Content-Length") == "17" && second.header("Via") != nil && second.header("X-Kong-Upstream-Latency") == "0")
        #expect(second.header("X-Kong-Proxy-Latency") != nil && second.header("X-Kong-Response-Latency") == nil)
        #expect(backend.requests.count == 1)
        // another query is another key
        #expect(try await get(gw, "/a?x=2").header("X-Cache-Status") == "Miss")
        #expect(backend.requests.count == 2)
        // past cache_ttl (300 s) but kept (storage_ttl 600 s): Refresh, and stored again
        clock.withLockedValue { $0 += 301_000 }
        #expect(try await get(gw, "/a?x=1").header("X-Cache-Status") == "Refresh")
        #expect(try await get(gw, "/a?x=1").header("X-Cache-Status") == "Hit")
        #expect(backend.requests.count == 3)
        // past storage_ttl: the store dropped it
        clock.withLockedValue { $0 += 700_000 }
        #expect(try await get(gw, "/a?x=1").header("X-Cache-Status") == "Miss")
    }

    /// Kong's `Kong-Debug` request header (any value) shows the cache's headers that
    /// `response_headers` turned off (`31-proxy-cache/02-access_spec.lua`, route-22).
    @Test func kongDebugShowsTheHeadersTheConfigHides() async throws {
        let backend = RawBackend { _ in Self.json("{}") }
        let port = try await backend.start()
        let gw = try await Self.gateway(port, config: "{response_headers: {age: false, X-Cache-Status: false, X-Cache-Key: false}}")
        defer { Task { await gw.stop(); await backend.stop() } }
        let miss = try await get(gw, "/d")
        #expect(miss.header("X-Cache-Status") == nil && miss.header("X-Cache-Key") == nil)
        let hidden = try await get(gw, "/d")
        #expect(hidden.header("X-Cache-Status") == nil && hidden.header("Age") == nil && backend.requests.count == 1)
        let debug = try await get(gw, "/d", "Kong-Debug: 0\r\n")
        #expect(debug.header("X-Cache-Status") == "Hit" && debug.header("Age") != nil && debug.header("X-Cache-Key")?.count == 64)
        let debugMiss = try await get(gw, "/e", "kong-debug: 1\r\n")
        #expect(debugMiss.header("X-Cache-Status") == "Miss" && debugMiss.header("X-Cache-Key") != nil)
        let bypass = try await gw.request("POST /d HTTP/1.1\r\nHost: x\r\nKong-Debug: 1\r\nContent-Length: 0\r\n\r\n")
        #expect(bypass?.header("X-Cache-Status") == "Bypass")
    }

    /// A `content_type` entry ending in `;` does not parse in Kong, and matches nothing
    /// (`31-proxy-cache/02-access_spec.lua`, route-19).
    @Test func aContentTypeEndingInASemicolonMatchesNothing() async throws {
        let backend = RawBackend { _ in Self.json("<x/>", type: "application/xml") }
        let port = try await backend.start()
        let gw = try await Self.gateway(port, config: "{content_type: [\"application/xml;\"]}")
        defer { Task { await gw.stop(); await backend.stop() } }
        #expect(try await get(gw, "/x").header("X-Cache-Status") == "Bypass")
        #expect(try await get(gw, "/x").header("X-Cache-Status") == "Bypass")
        #expect(backend.requests.count == 2)
    }

    @Test func whatIsNotCacheableBypasses() async throws {
        let backend = RawBackend { head in
            if head.contains("/html") { return Self.json("<p>", type: "text/html") }
            if head.contains("/charset") { return Self.json("{}", type: "application/json; charset=utf-8") }
            if head.contains("/error") { return Self.json("{}", status: "500 Internal Server Error") }
            return Self.json("{}")
        }
        let port = try await backend.start()
        let gw = try await Self.gateway(port)
        defer { Task { await gw.stop(); await backend.stop() } }
        for path in ["/html", "/charset", "/error"] {
            let response = try await get(gw, path)
            #expect(response.header("X-Cache-Status") == "Bypass", "\(path)")
            #expect(try await get(gw, path).header("X-Cache-Status") == "Bypass", "\(path) again")
        }
        let post = try #require(try await gw.request("POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"))
        #expect(post.header("X-Cache-Status") == "Bypass" && post.header("X-Cache-Key") == nil)
        #expect(backend.requests.count == 7)
    }

    @Test func cacheControlIsHonouredWhenEnabled() async throws {
        let backend = RawBackend { head in
            if head.contains("/private") { return Self.json("{}", extra: "Cache-Control: private, max-age=60\r\n") }
            if head.contains("/none") { return Self.json("{}") }
            return Self.json("{}", extra: "Cache-Control: public, max-age=5\r\n")
        }
        let port = try await backend.start()
        let clock = NIOLockedValueBox<Int64>(1_700_000_000_000)
        let gw = try await Self.gateway(port, config: "{cache_control: true}", clock: clock)
        defer { Task { await gw.stop(); await backend.stop() } }
        #expect(try await get(gw, "/private").header("X-Cache-Status") == "Bypass")
        #expect(try await get(gw, "/none").header("X-Cache-Status") == "Bypass")  // no freshness: not stored
        #expect(try await get(gw, "/five").header("X-Cache-Status") == "Miss")
        #expect(try await get(gw, "/five").header("X-Cache-Status") == "Hit")
        #expect(try await get(gw, "/five", "Cache-Control: no-cache\r\n").header("X-Cache-Status") == "Bypass")
        #expect(try await get(gw, "/five", "Authorization: Bearer x\r\n").header("X-Cache-Status") == "Bypass")
        clock.withLockedValue { $0 += 3_000 }
        #expect(try await get(gw, "/five", "Cache-Control: max-age=2\r\n").header("X-Cache-Status") == "Refresh")
        clock.withLockedValue { $0 += 6_000 }
        // max-age=5 has passed: the store dropped it
        #expect(try await get(gw, "/five").header("X-Cache-Status") == "Miss")
        let onlyCached = try await get(gw, "/never", "Cache-Control: only-if-cached\r\n")
        #expect(onlyCached.status == 504)
    }

    @Test func concurrentMissesGoUpstreamOnce() async throws {
        let backend = RawBackend { _ in var reply = Self.json("{\"slow\":true}"); reply.delayMs = 300; return reply }
        let port = try await backend.start()
        let gw = try await Self.gateway(port)
        defer { Task { await gw.stop(); await backend.stop() } }
        let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for _ in 0..<12 {
                group.addTask {
                    let r = try await self.get(gw, "/hot")
                    return (r.status, r.header("X-Cache-Status"))
                }
            }
            var all: [(Int, String?)] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(statuses.allSatisfy { $0.0 == 200 })
        #expect(statuses.filter { $0.1 == "Miss" }.count == 1 && statuses.filter { $0.1 == "Hit" }.count == 11)
        #expect(backend.requests.count == 1)
    }

    @Test func theMemoryBudgetHolds() async throws {
        let body = String(repeating: "x", count: 1000)
        let backend = RawBackend { head in
            if head.contains("/huge") { return Self.json(String(repeating: "y", count: 9000)) }
            return Self.json(body)
        }
        let port = try await backend.start()
        // 16 shards of 8 KiB: a shard holds a handful of 1 kB responses
        let gw = try await Self.gateway(port, budget: 16 * 8192)
        defer { Task { await gw.stop(); await backend.stop() } }
        for i in 0..<400 { _ = try await get(gw, "/item/\(i)") }
        let metrics = try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.statusPort)).bodyString
        func value(_ family: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(family + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
        }
        let bytes = try #require(value("argus_proxy_cache_bytes"))
        #expect(bytes <= 16 * 8192 && bytes > 16 * 4000)
        #expect((value("argus_proxy_cache_evictions_total") ?? 0) > 200)
        // a response larger than a shard's share streams through but is not kept
        #expect(try await get(gw, "/huge").header("X-Cache-Status") == "Miss")
        #expect(try await get(gw, "/huge").header("X-Cache-Status") == "Miss")
        #expect(metrics.contains("argus_proxy_cache_requests_total{service=\"backend\",route=\"main\",cache_status=\"miss\"}"))
    }

    @Test func chunkedResponsesAndHeadRequests() async throws {
        let backend = RawBackend { head in
            if head.hasPrefix("HEAD") {
                return RawBackend.Reply(bytes: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n")
            }
            return RawBackend.Reply(bytes: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        }
        let port = try await backend.start()
        let gw = try await Self.gateway(port)
        defer { Task { await gw.stop(); await backend.stop() } }
        #expect(try await get(gw, "/c").bodyString == "hello world")
        let hit = try await get(gw, "/c")
        #expect(hit.header("X-Cache-Status") == "Hit" && hit.bodyString == "hello world" && hit.header("Content-Length") == "11")
        #expect(hit.header("Transfer-Encoding") == nil)
        _ = try #require(try await gw.request("HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n"))
        let head = try #require(try await gw.request("HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(head.header("X-Cache-Status") == "Hit" && head.header("Content-Length") == "11" && head.body.isEmpty)
        #expect(backend.requests.count == 2)
    }

    @Test func adminAPIPurges() async throws {
        let backend = RawBackend { _ in Self.json("{}") }
        let port = try await backend.start()
        let gw = try await Self.gateway(port)
        defer { Task { await gw.stop(); await backend.stop() } }
        let key = try #require(try await get(gw, "/p").header("X-Cache-Key"))
        let entry = try #require(try await gw.request("GET /proxy-cache/\(key) HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort))
        #expect(entry.status == 200 && entry.bodyString.contains("\"status\":200") && entry.bodyString.contains("\"body_len\":2"))
        #expect(try await gw.request("DELETE /proxy-cache/\(key) HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort)?.status == 204)
        #expect(try await gw.request("GET /proxy-cache/\(key) HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort)?.status == 404)
        #expect(try await get(gw, "/p").header("X-Cache-Status") == "Miss")
        #expect(try await get(gw, "/p").header("X-Cache-Status") == "Hit")
        #expect(try await gw.request("DELETE /proxy-cache HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort)?.status == 204)
        #expect(try await get(gw, "/p").header("X-Cache-Status") == "Miss")
    }

    @Test func keysFollowTheVaryAndCaseSettings() async throws {
        let backend = RawBackend { _ in Self.json("{}") }
        let port = try await backend.start()
        let gw = try await Self.gateway(port, config: "{ignore_uri_case: true, vary_query_params: [page], vary_headers: [X-Tenant]}")
        defer { Task { await gw.stop(); await backend.stop() } }
        #expect(try await get(gw, "/List?page=1&utm=a", "X-Tenant: t1\r\n").header("X-Cache-Status") == "Miss")
        #expect(try await get(gw, "/list?utm=b&page=1", "X-Tenant: t1\r\n").header("X-Cache-Status") == "Hit")
        #expect(try await get(gw, "/list?page=1", "X-Tenant: t2\r\n").header("X-Cache-Status") == "Miss")
        #expect(try await get(gw, "/list?page=2", "X-Tenant: t1\r\n").header("X-Cache-Status") == "Miss")
        #expect(backend.requests.count == 3)
    }
}
