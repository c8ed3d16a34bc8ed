import ArgusCache
import ArgusConfig
import ArgusHTTP
import Crypto
import NIOConcurrencyHelpers
import NIOCore
import Testing

// MARK: - Helpers

private func requestHead(_ raw: String) -> RequestHead? {
    var parser = RequestHeadParser(maxRequestLineLength: 8192, maxHeadLength: 32768)
    var buffer = ByteBuffer(string: raw)
    if case .head(let head) = parser.parse(&buffer) { return head }
    return nil
}

private func responseHead(_ raw: String) -> ResponseHead? {
    var parser = ResponseHeadParser()
    var buffer = ByteBuffer(string: raw)
    if case .head(let head) = parser.parse(&buffer, requestWasHEAD: false) { return head }
    return nil
}

/// A GET with `Host: example.com` and the extra header lines given.
private func makeRequest(_ target: String, _ headers: [String] = [], method: String = "GET") throws -> RequestHead {
    let raw = "\(method) \(target) HTTP/1.1\r\nHost: example.com\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
    return try #require(requestHead(raw))
}

/// A 200 (or `status`) response with the header lines given.
private func makeResponse(_ headers: [String], status: String = "200 OK") throws -> ResponseHead {
    let raw = "HTTP/1.1 \(status)\r\n" + headers.map { $0 + "\r\n" }.joined() + "Content-Length: 0\r\n\r\n"
    return try #require(responseHead(raw))
}

private func makePlan(_ yaml: String) throws -> ProxyCachePlan {
    ProxyCachePlan(config: try #require(try ConfigLoader.parseValue(text: yaml)))
}

private func makeEntry(_ key: String, body: String = "hello", storedAt: Double = 0, ttl: Double = 60, storageTTL: Double = 1000) throws -> CachedResponse {
    let head = try makeResponse(["Content-Type: text/plain"])
    return CachedResponse(key: key, head: head, body: ByteBuffer(string: body), storedAt: storedAt, ttl: ttl, storageTTL: storageTTL, isHEAD: false)
}

/// The shard the store puts `key` in (same hashing as `ProxyCacheStore`, same process seed).
private func shardIndex(_ key: String) -> Int {
    var hasher = Hasher()
    hasher.combine(key)
    return Int(UInt(bitPattern: hasher.finalize()) % 16)
}

/// `count` keys of equal length that the store puts in the same shard.
private func sameShardKeys(_ count: Int) -> [String] {
    var byShard: [Int: [String]] = [:]
    for i in 1000..<9999 {
        let key = "key-\(i)"
        byShard[shardIndex(key), default: []].append(key)
        if let keys = byShard[shardIndex(key)], keys.count == count { return keys }
    }
    return []
}

private func sha256Hex(_ text: String) -> String { SHA256.hash(data: Array(text.utf8)).hexString }

// MARK: - The store

@Suite struct ProxyCacheStoreTests {
    @Test func evictsTheLeastRecentlyUsedEntryWhenOverBudget() throws {
        let keys = sameShardKeys(3)
        try #require(keys.count == 3)
        let (a, b, c) = (keys[0], keys[1], keys[2])
        let size = try makeEntry(a).size
        // A shard (1/16 of the budget) holds two entries of this size, not three.
        let store = ProxyCacheStore(budget: 16 * (2 * size + size / 2))
        #expect(store.insert(try makeEntry(a)))
        #expect(store.insert(try makeEntry(b)))
        #expect(store.statistics.entries == 2 && store.statistics.bytes == 2 * size)
        // Touching `a` makes `b` the least recently used one.
        #expect(store.lookup(a, now: 1)?.key == a)
        #expect(store.insert(try makeEntry(c)))
        #expect(store.peek(b) == nil)
        #expect(store.peek(a) != nil && store.peek(c) != nil)
        let stats = store.statistics
        #expect(stats.entries == 2 && stats.bytes == 2 * size && stats.evictions == 1)

        // peek does not touch recency: `a` (looked up before `c` was stored) goes next.
        _ = store.peek(a)
        #expect(store.insert(try makeEntry(b)))
        #expect(store.peek(a) == nil && store.peek(c) != nil && store.peek(b) != nil)
        #expect(store.statistics.evictions == 2)
    }

    @Test func replacingAKeyDoesNotCountItTwice() throws {
        let store = ProxyCacheStore(budget: 1 << 20)
        let first = try makeEntry("k", body: "one")
        let second = try makeEntry("k", body: "second body")
        store.insert(first)
        store.insert(second)
        #expect(store.statistics.entries == 1)
        #expect(store.statistics.bytes == second.size)
        #expect(store.peek("k")?.body == ByteBuffer(string: "second body"))
    }

    @Test func refusesAnEntryLargerThanAShardsShare() throws {
        let store = ProxyCacheStore(budget: 16 * 1024)
        #expect(store.maxEntryBytes == 1024)
        let big = try makeEntry("big", body: String(repeating: "x", count: 2000))
        #expect(big.size > store.maxEntryBytes)
        #expect(!store.insert(big))
        #expect(store.peek("big") == nil && store.statistics.entries == 0 && store.statistics.bytes == 0)
    }

    @Test func lookupFindsAStoredEntryUntilItsStorageTTLPasses() throws {
        let store = ProxyCacheStore(budget: 1 << 20)
        store.insert(try makeEntry("k", body: "payload", storedAt: 100, ttl: 10, storageTTL: 30))
        #expect(store.lookup("missing", now: 100) == nil)
        let found = try #require(store.lookup("k", now: 129.5))
        #expect(found.body == ByteBuffer(string: "payload"))
        #expect(found.expiresAt == 130 && found.ttl == 10 && found.age(now: 129.5) == 29)
        // At expiresAt it is gone, and dropped from the store (not just hidden).
        #expect(store.lookup("k", now: 130) == nil)
        #expect(store.peek("k") == nil)
        #expect(store.statistics.entries == 0 && store.statistics.bytes == 0)
        // An expiry is not an eviction.
        #expect(store.statistics.evictions == 0)
    }

    @Test func storedHeadIsReparsedIntoItsOwnStorage() throws {
        let head = try makeResponse(["Content-Type: text/plain", "X-Upstream: a"])
        let stored = CachedResponse(key: "k", head: head, body: ByteBuffer(), storedAt: 0, ttl: 1, storageTTL: 1, isHEAD: false)
        #expect(stored.head.status == 200)
        #expect(stored.head.values(forLowercasedName: "x-upstream") == ["a"])
        #expect(stored.size == head.bytes.readableBytes + 0 + 1 + 256)
    }

    @Test func purgeDropsOneEntryAndPurgeAllEverything() throws {
        let store = ProxyCacheStore(budget: 1 << 20)
        for key in ["a", "b", "c"] { store.insert(try makeEntry(key)) }
        #expect(store.purge("a"))
        #expect(!store.purge("a"))
        #expect(!store.purge("never-stored"))
        #expect(store.peek("a") == nil && store.peek("b") != nil)
        #expect(store.statistics.entries == 2)
        store.purgeAll()
        #expect(store.lookup("b", now: 1) == nil && store.lookup("c", now: 1) == nil)
        #expect(store.statistics.entries == 0 && store.statistics.bytes == 0)
        // The store still works after a purge.
        #expect(store.insert(try makeEntry("b")))
        #expect(store.lookup("b", now: 1) != nil)
    }

    @Test func aSecondMissWaitsForTheFirstFetch() {
        let store = ProxyCacheStore(budget: 1 << 20)
        let woken = NIOLockedValueBox(0)
        func wakeUps() -> Int { woken.withLockedValue { $0 } }
        let first = store.beginFetch("k") { Issue.record("the fetcher itself is never a waiter") }
        let second = store.beginFetch("k") { woken.withLockedValue { $0 += 1 } }
        let third = store.beginFetch("k") { woken.withLockedValue { $0 += 10 } }
        #expect(first && !second && !third)
        #expect(store.statistics.waiters == 2)
        // Another key is not held up.
        let other = store.beginFetch("other") {}
        #expect(other)
        #expect(wakeUps() == 0)

        store.endFetch("k")
        #expect(wakeUps() == 11)
        #expect(store.statistics.waiters == 0)
        // Ending twice wakes nobody twice; the next miss for the key fetches again.
        store.endFetch("k")
        #expect(wakeUps() == 11)
        let again = store.beginFetch("k") {}
        #expect(again)
        store.endFetch("k")
        store.endFetch("other")
    }

    @Test func cacheFetchEndsOnceAndOnRelease() {
        let store = ProxyCacheStore(budget: 1 << 20)
        let woken = NIOLockedValueBox(0)
        func wakeUps() -> Int { woken.withLockedValue { $0 } }
        let fetcher = store.beginFetch("k") {}
        #expect(fetcher)
        let fetch = CacheFetch(key: "k", store: store)
        let waiter = store.beginFetch("k") { woken.withLockedValue { $0 += 1 } }
        #expect(!waiter)
        fetch.end()
        #expect(wakeUps() == 1)

        // A new fetch of the same key must survive the old handle ending again.
        let nextFetcher = store.beginFetch("k") {}
        let nextWaiter = store.beginFetch("k") { woken.withLockedValue { $0 += 100 } }
        #expect(nextFetcher && !nextWaiter)
        fetch.end()
        #expect(wakeUps() == 1)
        #expect(store.statistics.waiters == 1)
        let stillFetching = store.beginFetch("k") { woken.withLockedValue { $0 += 1000 } }
        #expect(!stillFetching)

        // Releasing a handle without calling end() ends its fetch.
        func dropHandle() { _ = CacheFetch(key: "k", store: store) }
        dropHandle()
        #expect(wakeUps() == 1101)
        #expect(store.statistics.waiters == 0)
        let last = store.beginFetch("k") {}
        #expect(last)
        store.endFetch("k")
    }
}

// MARK: - Cache-Control

@Suite struct CacheControlTests {
    @Test func parsesDirectivesCaseInsensitivelyAcrossValues() {
        let control = CacheControl(["No-Store, MAX-AGE=60", " s-maxage=\"30\" ,only-if-cached", "private"])
        #expect(control.has("no-store") && control.has("only-if-cached") && control.has("private"))
        #expect(!control.has("no-cache"))
        #expect(control.seconds("max-age") == 60)
        #expect(control.seconds("s-maxage") == 30)
        #expect(control.directives["no-store"] == "")
        // A directive without a number has no seconds.
        #expect(control.seconds("no-store") == nil)
        #expect(control.seconds("min-fresh") == nil)
        #expect(CacheControl([]).directives.isEmpty)
        #expect(CacheControl([" , ,"]).directives.isEmpty)
    }

    @Test func freshnessPrefersSMaxAgeThenMaxAgeThenExpires() {
        // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 seconds after 1970.
        let expires = "Sun, 06 Nov 1994 08:49:37 GMT"
        #expect(CacheControl(["max-age=60, s-maxage=5"]).freshness(expires: expires, now: 0) == 5)
        #expect(CacheControl(["max-age=60"]).freshness(expires: expires, now: 0) == 60)
        #expect(CacheControl([]).freshness(expires: expires, now: 784_111_777 - 90) == 90)
        // Never negative: an Expires in the past, a negative max-age.
        #expect(CacheControl([]).freshness(expires: expires, now: 784_111_777 + 90) == 0)
        #expect(CacheControl(["max-age=-5"]).freshness(expires: nil, now: 0) == 0)
        // An Expires that is not an IMF-fixdate counts as expired.
        #expect(CacheControl([]).freshness(expires: "Sunday, 06-Nov-94 08:49:37 GMT", now: 0) == 0)
        #expect(CacheControl([]).freshness(expires: nil, now: 0) == 0)
    }
}

// MARK: - The plan

@Suite struct ProxyCachePlanTests {
    @Test func defaultsAreKongs() throws {
        let plan = try makePlan("{}")
        #expect(plan.methods == ["GET", "HEAD"])
        #expect(plan.statuses == [200, 301, 404])
        let defaultTypes = [MediaType("text/plain"), MediaType("application/json")].compactMap { $0 }
        #expect(defaultTypes.count == 2 && plan.contentTypes == defaultTypes)
        #expect(plan.cacheTTL == 300 && plan.storageTTL == nil && !plan.cacheControl && !plan.ignoreURICase)
        #expect(plan.varyQueryParams == nil && plan.varyHeaders == nil)
        #expect(plan.sendAge && plan.sendStatus && plan.sendKey)
    }

    @Test func schemaDefaultsGiveTheSamePlan() throws {
        let config = try ConfigLoader.parse(
            text: """
                _format_version: "3.0"
                plugins:
                  - name: proxy-cache
                """,
            file: "kong.yml")
        let fromSchema = ProxyCachePlan(config: try #require(config.plugins.first?.config))
        let bare = try makePlan("{}")
        #expect(fromSchema.methods == bare.methods && fromSchema.statuses == bare.statuses)
        #expect(fromSchema.contentTypes == bare.contentTypes && fromSchema.cacheTTL == bare.cacheTTL)
        #expect(fromSchema.storageTTL == nil && fromSchema.cacheControl == bare.cacheControl)
    }

    @Test func cacheableRequestsByMethod() throws {
        let plan = try makePlan("{}")
        #expect(plan.isCacheable(try makeRequest("/a"), CacheControl([])))
        #expect(plan.isCacheable(try makeRequest("/a", method: "HEAD"), CacheControl([])))
        #expect(!plan.isCacheable(try makeRequest("/a", ["Content-Length: 0"], method: "POST"), CacheControl([])))
        #expect(!plan.isCacheable(try makeRequest("/a", method: "DELETE"), CacheControl([])))

        let posts = try makePlan("{request_method: [POST]}")
        #expect(posts.isCacheable(try makeRequest("/a", ["Content-Length: 0"], method: "POST"), CacheControl([])))
        #expect(!posts.isCacheable(try makeRequest("/a"), CacheControl([])))
    }

    @Test func requestCacheControlAndAuthorizationCountOnlyWithCacheControl() throws {
        let off = try makePlan("{}")
        let on = try makePlan("{cache_control: true}")
        /// [cacheable without cache_control, cacheable with it]
        func check(_ headers: [String]) throws -> [Bool] {
            let head = try makeRequest("/a", headers)
            let control = CacheControl(head.values(forLowercasedName: "cache-control"))
            return [off.isCacheable(head, control), on.isCacheable(head, control)]
        }
        #expect(try check([]) == [true, true])
        #expect(try check(["Cache-Control: no-store"]) == [true, false])
        #expect(try check(["Cache-Control: max-age=0, No-Cache"]) == [true, false])
        #expect(try check(["Authorization: Bearer x"]) == [true, false])
        #expect(try check(["Cache-Control: max-age=10"]) == [true, true])
        #expect(try check(["Cache-Control: only-if-cached"]) == [true, true])
    }

    @Test func cacheableResponsesByStatusAndContentType() throws {
        let plan = try makePlan("{}")
        func ttl(_ headers: [String], status: String = "200 OK") throws -> Double? {
            plan.storage(for: try makeResponse(headers, status: status), now: 1000)?.ttl
        }
        #expect(try ttl(["Content-Type: text/plain"]) == 300)
        #expect(try ttl(["Content-Type: Application/JSON"]) == 300)
        #expect(try ttl(["Content-Type: text/plain"], status: "301 Moved Permanently") == 300)
        #expect(try ttl(["Content-Type: text/plain"], status: "404 Not Found") == 300)
        #expect(try ttl(["Content-Type: text/plain"], status: "500 Internal Server Error") == nil)
        #expect(try ttl(["Content-Type: text/plain"], status: "302 Found") == nil)
        #expect(try ttl(["Content-Type: text/html"]) == nil)
        // Parameters must match exactly (Kong's content_type matching).
        #expect(try ttl(["Content-Type: application/json; charset=utf-8"]) == nil)
        // No Content-Type, or two of them: not stored.
        #expect(try ttl([]) == nil)
        #expect(try ttl(["Content-Type: text/plain", "Content-Type: text/plain"]) == nil)
        // Without cache_control, the upstream's Cache-Control is not read.
        #expect(try ttl(["Content-Type: text/plain", "Cache-Control: no-store, private"]) == 300)
    }

    @Test func configuredStatusesTypesAndTTLs() throws {
        let plan = try makePlan("{response_code: [200, 418], content_type: ['application/*', 'text/plain; charset=utf-8'], cache_ttl: 42, storage_ttl: 600}")
        let json = try makeResponse(["Content-Type: application/xml"], status: "418 I'm a teapot")
        let stored = try #require(plan.storage(for: json, now: 0))
        #expect(stored.ttl == 42 && stored.storageTTL == 600)
        #expect(plan.storage(for: try makeResponse(["Content-Type: text/plain; charset=UTF-8"]), now: 0) != nil)
        #expect(plan.storage(for: try makeResponse(["Content-Type: text/plain"]), now: 0) == nil)
        #expect(plan.storage(for: try makeResponse(["Content-Type: application/json"], status: "404 Not Found"), now: 0) == nil)
    }

    @Test func responseCacheControlSetsTheTTLWhenEnabled() throws {
        let plan = try makePlan("{cache_control: true}")
        func storage(_ headers: [String], now: Double = 0) throws -> (ttl: Double, storageTTL: Double)? {
            plan.storage(for: try makeResponse(["Content-Type: text/plain"] + headers), now: now)
        }
        let maxAge = try #require(try storage(["Cache-Control: max-age=60"]))
        #expect(maxAge.ttl == 60 && maxAge.storageTTL == 60)
        #expect(try storage(["Cache-Control: max-age=60, s-maxage=30"])?.ttl == 30)
        #expect(try storage(["Cache-Control: public", "Cache-Control: max-age=15"])?.ttl == 15)
        let expires = try #require(try storage(["Expires: Sun, 06 Nov 1994 08:49:37 GMT"], now: 784_111_777 - 120))
        #expect(expires.ttl == 120)
        // Nothing says how long it is fresh, or it is already stale: not stored.
        #expect(try storage([]) == nil)
        #expect(try storage(["Cache-Control: max-age=0"]) == nil)
        #expect(try storage(["Expires: Sun, 06 Nov 1994 08:49:37 GMT"], now: 784_111_777 + 1) == nil)
        // private, no-store and no-cache forbid storing however fresh.
        #expect(try storage(["Cache-Control: private, max-age=60"]) == nil)
        #expect(try storage(["Cache-Control: max-age=60, no-store"]) == nil)
        #expect(try storage(["Cache-Control: no-cache", "Cache-Control: max-age=60"]) == nil)

        let kept = try makePlan("{cache_control: true, storage_ttl: 3600}")
        let both = try #require(kept.storage(for: try makeResponse(["Content-Type: text/plain", "Cache-Control: max-age=60"]), now: 0))
        #expect(both.ttl == 60 && both.storageTTL == 3600)
    }

    @Test func freshnessFollowsCacheTTLOrTheClientsDirectives() throws {
        let stored = try makeEntry("k", storedAt: 1000, ttl: 60, storageTTL: 600)
        let ttlOnly = try makePlan("{cache_ttl: 30}")
        #expect(ttlOnly.isFresh(stored, request: CacheControl([]), now: 1030))
        #expect(!ttlOnly.isFresh(stored, request: CacheControl([]), now: 1031))

        let plan = try makePlan("{cache_control: true}")
        #expect(plan.isFresh(stored, request: CacheControl([]), now: 1060))
        #expect(!plan.isFresh(stored, request: CacheControl([]), now: 1061))
        #expect(!plan.isFresh(stored, request: CacheControl(["max-age=10"]), now: 1011))
        #expect(plan.isFresh(stored, request: CacheControl(["max-age=10"]), now: 1010))
        #expect(plan.isFresh(stored, request: CacheControl(["max-stale=20"]), now: 1080))
        #expect(!plan.isFresh(stored, request: CacheControl(["max-stale=20"]), now: 1081))
        #expect(plan.isFresh(stored, request: CacheControl(["min-fresh=20"]), now: 1040))
        #expect(!plan.isFresh(stored, request: CacheControl(["min-fresh=20"]), now: 1041))
    }

    @Test func keysAreKongsDigestOfRouteMethodPathArgumentsAndHeaders() throws {
        let plan = try makePlan("{}")
        let head = try makeRequest("/a?b=2&a=1&a=0&na%20me=v%2Fx&flag")
        #expect(plan.key(head, consumerID: nil, routeID: "r1") == sha256Hex("r1|GET|/a|a=0,1:b=2:flag:na me=v/x|"))
        #expect(plan.key(head, consumerID: "c1", routeID: "r1") == sha256Hex("c1:r1|GET|/a|a=0,1:b=2:flag:na me=v/x|"))
        let key = plan.key(head, consumerID: nil, routeID: "r1")
        let isLowerHex = key.allSatisfy { "0123456789abcdef".contains($0) }
        #expect(key.count == 64 && isLowerHex)
    }

    @Test func keysVaryOnlyWithWhatIsConfigured() throws {
        let plain = try makePlan("{}")
        func key(_ plan: ProxyCachePlan, _ target: String, _ headers: [String] = [], method: String = "GET") throws -> String {
            plan.key(try makeRequest(target, headers, method: method), consumerID: nil, routeID: "r")
        }
        #expect(try key(plain, "/a?x=1&y=2") == key(plain, "/a?y=2&x=1"))
        #expect(try key(plain, "/a?x=1") != key(plain, "/a?x=2"))
        #expect(try key(plain, "/a") != key(plain, "/A"))
        #expect(try key(plain, "/a") != key(plain, "/a", method: "HEAD"))
        #expect(try key(plain, "/a", ["Accept: text/html"]) == key(plain, "/a", ["Accept: application/json"]))

        let caseless = try makePlan("{ignore_uri_case: true}")
        #expect(try key(caseless, "/Some/Path") == key(caseless, "/some/path"))

        let byParam = try makePlan("{vary_query_params: [x]}")
        #expect(try key(byParam, "/a?x=1&y=2") == key(byParam, "/a?x=1&y=3"))
        #expect(try key(byParam, "/a?x=1") != key(byParam, "/a?x=2"))

        let byHeader = try makePlan("{vary_headers: [Accept]}")
        #expect(byHeader.varyHeaders == ["accept"])
        #expect(try key(byHeader, "/a", ["Accept: text/html"]) != key(byHeader, "/a", ["accept: application/json"]))
        #expect(try key(byHeader, "/a", ["Accept: text/html", "X-Other: 1"]) == key(byHeader, "/a", ["ACCEPT: text/html"]))
        let html = try makeRequest("/a", ["Accept: text/html"])
        #expect(byHeader.key(html, consumerID: nil, routeID: "r") == sha256Hex("r|GET|/a||accept=text/html"))

        // Empty vary lists mean "not configured".
        let empty = try makePlan("{vary_query_params: [], vary_headers: []}")
        #expect(empty.varyQueryParams == nil && empty.varyHeaders == nil)
    }

    @Test func statusTexts() {
        #expect(ProxyCachePlan.Status.hit.text == "Hit" && ProxyCachePlan.Status.bypass.text == "Bypass")
        #expect(ProxyCachePlan.Status(code: 3) == .refresh)
        #expect(ProxyCachePlan.Status(code: 9) == nil)
    }
}

@Suite struct MediaTypeTests {
    @Test func matchesTypeSubtypeWildcardsAndExactParameters() throws {
        let json = try #require(MediaType("Application/JSON"))
        #expect(json.type == "application" && json.subtype == "json" && json.parameters.isEmpty)
        let utf8 = try #require(MediaType("application/json; Charset=\"UTF-8\""))
        #expect(utf8.parameters == ["charset": "utf-8"])
        #expect(json.matches(json) && !json.matches(utf8) && !utf8.matches(json))
        let wildcard = try #require(MediaType("*/*"))
        let anyApplication = try #require(MediaType("application/*"))
        let anyText = try #require(MediaType("text/*"))
        #expect(wildcard.matches(json) && anyApplication.matches(json) && !anyText.matches(json))
        #expect(MediaType("json") == nil && MediaType("/json") == nil && MediaType("a/b/c") == nil && MediaType("") == nil)
    }
}
