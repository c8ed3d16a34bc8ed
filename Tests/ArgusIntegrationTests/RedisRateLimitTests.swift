import ArgusApp
import ArgusConfig
import ArgusEvents
import ArgusProxy
import ArgusRedis
import Foundation
import Testing

@Suite("rate-limiting with policy redis against a real redis-server", .enabled(if: RedisServer.available))
struct RedisRateLimitTests {
    static let t0 = RateLimitingTests.t0

    static func gateway(port: Int, redis: RedisServer, config: String, clock: ManualClock) async throws -> GatewayHarness {
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
                config: {policy: redis, redis: {host: 127.0.0.1, port: \(redis.port), timeout: 500}, \(config)}
            """
        return try await GatewayHarness(yaml: yaml) { $0.proxy.wallClockMilliseconds = clock.read }
    }

    /// The check runs on the request's own loop: Redis's replies complete there, so a limited
    /// route costs no thread hop (the proxy loop's hop counter does not move with the requests).
    @Test func aRedisCheckCostsNoThreadHop() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port: port, redis: redis, config: "minute: 1000", clock: ManualClock(Self.t0 + 20_000))
        defer { Task { await gw.stop(); await backend.stop() } }
        func hops() async throws -> Int {
            let text = try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.statusPort)).bodyString
            let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("argus_proxy_loop_hops_total{loop=\"0\"}") })
            return Int(Double(line.split(separator: " ").last ?? "0") ?? 0)
        }
        let before = try await hops()
        for _ in 1...30 {
            let r = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(r.status == 200 && r.header("X-RateLimit-Remaining-Minute") != nil)
        }
        let after = try await hops()
        let idle = try await hops()
        // a scrape itself hops onto the loop to count its connections: the same for both intervals
        #expect((after - before) - (idle - after) <= 2, "30 Redis-checked requests: \(after - before) hops, a scrape alone: \(idle - after)")
    }

    @Test func seedScenarioCountsInRedisUnderKongsKey() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0 + 20_000)
        let gw = try await Self.gateway(port: port, redis: redis, config: "minute: 5", clock: clock)
        defer { Task { await gw.stop(); await backend.stop() } }

        for i in 1...5 {
            let r = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(r.status == 200 && r.header("X-RateLimit-Remaining-Minute") == String(5 - i))
        }
        let r = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(r.status == 429 && r.header("Retry-After") == "40" && r.header("RateLimit-Remaining") == "0")
        #expect(backend.requests.count == 5)

        // Kong's key: ratelimit:<route>:<service>:<identifier>:<window start ms>:<period>; it
        // expires with its window.
        let null = "00000000-0000-0000-0000-000000000000"
        let key = "ratelimit:\(null):\(null):127.0.0.1:\(Self.t0):minute"
        let client = try LoopRedisClient(.init(host: "127.0.0.1", port: redis.port))
        defer { Task { await client.shutdown() } }
        #expect(try await client.send(["GET", key]).string == "5")
        let ttl = try #require(try await client.send(["TTL", key]).int)
        #expect(ttl > 0 && ttl <= 41)

        // The usage view reads the same counters from Redis.
        let id = gw.gateway.currentConfig.plugins[0].id
        let view = try #require(try await gw.request("GET /rate-limiting/usage?plugin=\(id)&identifier=127.0.0.1 HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort))
        #expect(view.status == 200)
        #expect(view.bodyString.contains("\"policy\":\"redis\""))
        #expect(view.bodyString.hasSuffix("\"usage\":{\"minute\":{\"limit\":5,\"used\":5,\"remaining\":0,\"reset\":40}}}"))
    }

    /// Two Argus nodes sharing one Redis admit exactly the limit together.
    @Test func twoNodesShareOneLimitExactly() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0)
        let a = try await Self.gateway(port: port, redis: redis, config: "minute: 30, hour: 1000", clock: clock)
        let b = try await Self.gateway(port: port, redis: redis, config: "minute: 30, hour: 1000", clock: clock)
        defer { Task { await a.stop(); await b.stop(); await backend.stop() } }

        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
            for i in 0..<12 {
                let node = i % 2 == 0 ? a : b
                group.addTask {
                    let client = try await RawClient(port: node.proxyPort)
                    var seen: [Int] = []
                    for _ in 0..<8 {
                        try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                        seen.append(try #require(try await client.readResponse()).status)
                    }
                    await client.close()
                    return seen
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(statuses.filter { $0 == 200 }.count == 30)
        #expect(statuses.filter { $0 == 429 }.count == 12 * 8 - 30)
        #expect(backend.requests.count == 30)
    }

    /// Redis killed and restarted in the middle: fault tolerant instances serve (without limit
    /// headers, the failure counted in the event), strict ones answer 500; recovery is automatic.
    @Test func redisDownAndBack() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0)
        let tolerant = try await Self.gateway(port: port, redis: redis, config: "minute: 3", clock: clock)
        let strict = try await Self.gateway(port: port, redis: redis, config: "minute: 3, fault_tolerant: false", clock: clock)
        defer { Task { await tolerant.stop(); await strict.stop(); await backend.stop() } }
        let events = tolerant.gateway.events.makeConsumer(name: "test")
        func get(_ gw: GatewayHarness) async throws -> RawClient.Response {
            try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        }

        #expect(try await get(tolerant).status == 200)
        redis.kill()
        for _ in 0..<5 {
            let r = try await get(tolerant)
            #expect(r.status == 200)
            #expect(r.header("X-RateLimit-Limit-Minute") == nil)
        }
        let failed = try await get(strict)
        #expect(failed.status == 500)
        #expect(failed.bodyString.contains("An unexpected error occurred"))

        try redis.start()  // empty: the counts of this minute start over
        var limited = false
        for _ in 0..<100 where !limited {
            let r = try await get(tolerant)
            limited = r.status == 429
            if r.status == 200 && r.header("X-RateLimit-Limit-Minute") == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(limited, "limits apply again once Redis is back")
        var strictBack = false
        for _ in 0..<100 where !strictBack {
            strictBack = try await get(strict).status != 500
            if !strictBack { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(strictBack, "the strict instance serves again once Redis is back")

        var flagged = 0
        for _ in 0..<50 {
            _ = events.drain(max: 256) { batch in
                flagged += batch.filter { EventFlags(rawValue: $0.flags & 0x0F).contains(.rateLimitStoreError) }.count
            }
            if flagged >= 5 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(flagged >= 5)
        var text = ""
        for _ in 0..<100 where !text.contains("argus_ratelimit_store_errors_total{") {
            text = try #require(try await tolerant.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: tolerant.adminPort)).bodyString
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(text.contains("argus_ratelimit_store_errors_total{service=\"backend\",route=\"main\",plugin=\""))
    }

    @Test func slidingWindowInRedis() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0 + 50_000)
        let gw = try await Self.gateway(port: port, redis: redis, config: "minute: 10, algorithm: sliding", clock: clock)
        defer { Task { await gw.stop(); await backend.stop() } }
        func status() async throws -> Int { try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).status }

        for _ in 0..<10 { #expect(try await status() == 200) }
        #expect(try await status() == 429)
        clock.advance(ms: 25_000)  // 15 s into the next minute: 10 × 45/60 = 7 still count
        var admitted = 0
        for _ in 0..<10 where try await status() == 200 { admitted += 1 }
        #expect(admitted == 3)
    }

    /// `sync_rate`: each node counts locally and syncs with Redis; the overshoot stays within the
    /// documented bound (N·L for N nodes), every admitted request ends up counted in Redis, and
    /// once synced every node rejects.
    @Test func syncRateCountsLocallyAndLosesNothing() async throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let clock = ManualClock(Self.t0 + 1_000)
        let config = "minute: 20, sync_rate: 0.1"
        let a = try await Self.gateway(port: port, redis: redis, config: config, clock: clock)
        let b = try await Self.gateway(port: port, redis: redis, config: config, clock: clock)
        defer { Task { await b.stop(); await backend.stop() } }
        func status(_ gw: GatewayHarness) async throws -> Int {
            try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).status
        }
        let key = "ratelimit:\(RateLimitPlanKey.null):\(RateLimitPlanKey.null):127.0.0.1:\(Self.t0):minute"
        let client = try LoopRedisClient(.init(host: "127.0.0.1", port: redis.port))
        defer { Task { await client.shutdown() } }
        func redisCount() async throws -> Int64 { try await client.send(["GET", key]).int ?? 0 }
        /// Lets both syncers run: the clock moves past sync_rate, then real time for a few ticks.
        func sync() async throws {
            clock.advance(ms: 150)
            try await Task.sleep(for: .milliseconds(200))
        }

        var admitted = 0
        for _ in 0..<10 where try await status(a) == 200 { admitted += 1 }
        #expect(admitted == 10)
        try await sync()
        #expect(try await redisCount() == 10)
        for _ in 0..<30 where try await status(b) == 200 { admitted += 1 }
        for _ in 0..<30 where try await status(a) == 200 { admitted += 1 }
        try await sync()
        try await sync()
        #expect(admitted >= 20 && admitted <= 40, "admitted \(admitted): within N·L for 2 nodes")
        #expect(try await redisCount() == Int64(admitted), "every admitted request is counted in Redis")
        #expect(backend.requests.count == admitted)
        // Synced: both nodes now know the window is spent.
        #expect(try await status(a) == 429)
        #expect(try await status(b) == 429)

        // Counted but not yet due at shutdown: the stop flushes it.
        clock.advance(ms: 60_000)
        #expect(try await status(a) == 200)
        try await sync()
        for _ in 0..<3 { #expect(try await status(a) == 200) }
        await a.stop()
        let nextKey = "ratelimit:\(RateLimitPlanKey.null):\(RateLimitPlanKey.null):127.0.0.1:\(Self.t0 + 60_000):minute"
        #expect(try await client.send(["GET", nextKey]).int == 4)
    }
}

enum RateLimitPlanKey {
    static let null = "00000000-0000-0000-0000-000000000000"
}
