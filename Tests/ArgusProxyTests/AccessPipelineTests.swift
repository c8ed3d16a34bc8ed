import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusCache
import ArgusConfig
import ArgusEvents
import ArgusHTTP
import ArgusRateLimit
import ArgusRedis
import ArgusSnapshot
import NIOCore
import Testing

@testable import ArgusProxy

/// The access phase's surroundings for a test: a fixed clock and stores of its own.
struct TestAccessEnvironment: AccessEnvironment {
    var nowMs: Int64 = 1_780_000_000_000
    let counters = LocalCounterStore()
    let synced = SyncedCounterStore()
    let responseCounters = ResponseCounterStore()
    let cache = ProxyCacheStore(budget: 1 << 20)
    var generator = CorrelationIDGenerator()
    var storeFailures = 0

    func wallClockMilliseconds() -> Int64 { nowMs }

    mutating func generateCorrelationID(_ generator: CorrelationIDPlan.Generator) -> String {
        self.generator.next(generator, serverAddress: "127.0.0.1", serverPort: 8000, connection: 1, connectionRequests: 1, nowMs: nowMs)
    }

    func countLocally(_ limiter: RateLimitPlan, identifier: String, nowMs: Int64) -> RateLimitUsage {
        counters.check(
            scope: limiter.scope, identifier: identifier, limits: limiter.settings.limits, algorithm: limiter.settings.algorithm, nowMs: nowMs)
    }

    func countSynced(_ limiter: RateLimitPlan, identifier: String, nowMs: Int64) -> RateLimitUsage {
        synced.check(limiter, identifier: identifier, nowMs: nowMs)
    }

    func responseLimitsSpent(_ plan: ResponseRateLimitPlan, identifier: String, nowMs: Int64) -> [Int64] {
        responseCounters.spent(plan, identifier: identifier, nowMs: nowMs)
    }

    func beginCacheFetch(_ key: String) -> Bool { cache.beginFetch(key) {} }

    mutating func rateLimitStoreFailed(_ error: any Error, faultTolerant: Bool) { storeFailures += 1 }

    func responseLinesBuffer() -> ByteBuffer { ByteBuffer() }
}

/// The access pipeline over a real snapshot and real parsed heads, without a connection.
@Suite struct AccessPipelineTests {
    static let yaml = """
        _format_version: "3.0"
        services:
          - name: backend
            url: http://127.0.0.1:9
            routes:
              - name: keyed
                paths: ["/keyed"]
                plugins:
                  - name: key-auth
              - name: in-body
                paths: ["/in-body"]
                plugins:
                  - name: key-auth
                    config: {key_in_body: true, key_in_header: false, key_in_query: false}
              - name: limited
                paths: ["/limited"]
                plugins:
                  - name: rate-limiting
                    config: {minute: 2, policy: local}
              - name: shared
                paths: ["/shared"]
                plugins:
                  - name: rate-limiting
                    config: {minute: 5, policy: redis, redis: {host: 127.0.0.1, port: 1}, fault_tolerant: false}
              - name: members
                paths: ["/members"]
                plugins:
                  - name: key-auth
                  - name: acl
                    config: {allow: [gold]}
              - name: cors
                paths: ["/cors"]
                plugins:
                  - name: cors
                    config: {origins: ["https://app.example"]}
              - name: cached
                paths: ["/cached"]
                plugins:
                  - name: proxy-cache
                    config: {strategy: memory, content_type: ["text/plain"]}
        consumers:
          - username: alice
            keyauth_credentials: [{key: alice-key}]
            acls: [{group: gold}]
          - username: bob
            keyauth_credentials: [{key: bob-key}]
        """

    let snapshot: ConfigSnapshot

    init() throws {
        snapshot = ConfigSnapshot(config: try ConfigLoader.parse(text: Self.yaml, file: "kong.yml"))
    }

    func routed(_ raw: String) throws -> RoutedRequest {
        var parser = RequestHeadParser(maxRequestLineLength: 8192, maxHeadLength: 32768)
        var bytes = ByteBuffer(string: raw)
        guard case .head(let head) = parser.parse(&bytes) else { throw TestFailure.notAHead }
        var trace = RequestTrace()
        var answer: GatewayError?
        guard let routed = RouteStep.route(
            head, requestID: RequestID(high: 1, low: 2), received: .now(), snapshot: snapshot, listenerPort: 8000,
            maxRequestBodySize: 0, trace: &trace, answer: &answer)
        else { throw TestFailure.notRouted }
        return routed
    }

    enum TestFailure: Error { case notAHead, notRouted }

    func run(_ raw: String, env: inout TestAccessEnvironment) throws -> (AccessDecision, AccessPipeline, RequestTrace) {
        var pipeline = AccessPipeline()
        var trace = RequestTrace()
        let decision = pipeline.run(try routed(raw), client: ClientFacts(), trace: &trace, env: &env)
        return (decision, pipeline, trace)
    }

    func status(_ decision: AccessDecision) -> Int? {
        if case .answer(let error) = decision { return error.status }
        return nil
    }

    @Test func keyAuthRefusesAMissingOrWrongKeyAndIdentifiesTheConsumer() throws {
        var env = TestAccessEnvironment()
        let (missing, _, trace) = try run("GET /keyed HTTP/1.1\r\nHost: x\r\n\r\n", env: &env)
        guard case .answer(let error) = missing else { Issue.record("expected an answer"); return }
        #expect(error.status == 401 && error.message == "No API key found in request" && trace.plugin >= 0)
        #expect(status(try run("GET /keyed HTTP/1.1\r\nHost: x\r\napikey: nope\r\n\r\n", env: &env).0) == 401)
        let (ok, pipeline, okTrace) = try run("GET /keyed HTTP/1.1\r\nHost: x\r\napikey: bob-key\r\n\r\n", env: &env)
        guard case .next = ok else { Issue.record("expected the request to go on"); return }
        #expect(pipeline.state.consumer == 1 && okTrace.consumer == 1 && pipeline.state.credentialID != nil)
    }

    @Test func aKeyInTheBodyAsksForTheBodyThenRunsTheSameStepAgain() throws {
        var env = TestAccessEnvironment()
        let routed = try routed("POST /in-body HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\n")
        var pipeline = AccessPipeline()
        var trace = RequestTrace()
        guard case .needBody = pipeline.run(routed, client: ClientFacts(), trace: &trace, env: &env) else {
            Issue.record("expected needBody")
            return
        }
        pipeline.state.body = ByteBuffer(string: "apikey=bob-key")
        pipeline.state.bodyRead = true
        guard case .next = pipeline.run(routed, client: ClientFacts(), trace: &trace, env: &env) else {
            Issue.record("expected the request to go on")
            return
        }
        #expect(pipeline.state.consumer == 1)
    }

    @Test func localRateLimitingAdmitsTheLimitThenAnswers429WithKongsHeaders() throws {
        var env = TestAccessEnvironment()
        for remaining in [1, 0] {
            let (decision, pipeline, _) = try run("GET /limited HTTP/1.1\r\nHost: x\r\n\r\n", env: &env)
            guard case .next = decision else { Issue.record("expected admission"); return }
            let lines = String(buffer: pipeline.state.responseHeaders ?? ByteBuffer())
            #expect(lines.contains("X-RateLimit-Remaining-Minute: \(remaining)\r\n"))
        }
        let (refused, _, trace) = try run("GET /limited HTTP/1.1\r\nHost: x\r\n\r\n", env: &env)
        guard case .answer(let error) = refused else { Issue.record("expected 429"); return }
        #expect(error.status == 429 && error.decision == .rateLimited && trace.plugin >= 0)
        #expect(String(buffer: error.headerLines ?? ByteBuffer()).contains("Retry-After: "))
    }

    @Test func aRedisPolicySuspendsAndResumesWithTheAnswer() throws {
        var env = TestAccessEnvironment()
        let routed = try routed("GET /shared HTTP/1.1\r\nHost: x\r\n\r\n")
        var pipeline = AccessPipeline()
        var trace = RequestTrace()
        guard case .suspend(.rateLimit(let limiter, _, _, let endpoint)) = pipeline.run(routed, client: ClientFacts(), trace: &trace, env: &env)
        else {
            Issue.record("expected a suspension for Redis")
            return
        }
        #expect(endpoint.port == 1)
        // Redis is down and fault_tolerant is false: Kong's 500, the store error counted in the event
        struct Down: Error {}
        var failed = pipeline
        let answer = failed.rateLimitAnswered(limiter, .failure(Down()), routed, client: ClientFacts(), trace: &trace, env: &env)
        #expect(status(answer) == 500 && env.storeFailures == 1 && trace.flags.contains(.rateLimitStoreError))
        // an admitting answer lets the request through
        let usage = env.countLocally(limiter, identifier: "x", nowMs: env.nowMs)
        guard case .next = pipeline.rateLimitAnswered(limiter, .success(usage), routed, client: ClientFacts(), trace: &trace, env: &env)
        else {
            Issue.record("expected admission")
            return
        }
    }

    @Test func aclRefusesAConsumerOutsideTheAllowList() throws {
        var env = TestAccessEnvironment()
        guard case .next = try run("GET /members HTTP/1.1\r\nHost: x\r\napikey: alice-key\r\n\r\n", env: &env).0 else {
            Issue.record("alice is gold")
            return
        }
        #expect(status(try run("GET /members HTTP/1.1\r\nHost: x\r\napikey: bob-key\r\n\r\n", env: &env).0) == 403)
    }

    @Test func aCORSPreflightIsAnsweredByTheGateway() throws {
        var env = TestAccessEnvironment()
        let (decision, _, _) = try run(
            "OPTIONS /cors HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\n\r\n", env: &env)
        guard case .answer(let answer) = decision else { Issue.record("expected the preflight's answer"); return }
        #expect(answer.status == 200 && answer.emptyBody && answer.decision == .pluginResponse)
        #expect(answer.headers.contains { $0.0 == "Access-Control-Allow-Origin" && $0.1 == "https://app.example" })
    }

    @Test func proxyCacheFetchesOnceServesFreshEntriesAndMakesOthersWait() throws {
        var env = TestAccessEnvironment()
        let raw = "GET /cached HTTP/1.1\r\nHost: x\r\n\r\n"
        let (miss, fetcher, trace) = try run(raw, env: &env)
        guard case .next = miss, let cache = fetcher.state.cache else { Issue.record("expected a miss that fetches"); return }
        #expect(cache.status == .miss && trace.flags.cacheStatus == ProxyCachePlan.Status.miss.rawValue)
        // a second request for the same key waits for the first one's fetch
        guard case .suspend(.cacheFetch) = try run(raw, env: &env).0 else { Issue.record("expected a wait"); return }
        // the fetch stores the response and ends
        var parser = ResponseHeadParser()
        var response = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n")
        guard case .head(let head) = parser.parse(&response, requestWasHEAD: false) else { Issue.record("no head"); return }
        let now = Double(env.nowMs) / 1000
        #expect(env.cache.insert(CachedResponse(
            key: cache.key, head: head, body: ByteBuffer(string: "hi"), storedAt: now, ttl: 300, storageTTL: 300, isHEAD: false)))
        cache.fetch?.end()
        guard case .serve(let hit) = try run(raw, env: &env).0 else { Issue.record("expected a hit"); return }
        #expect(String(buffer: hit.entry.body) == "hi")
    }
}
