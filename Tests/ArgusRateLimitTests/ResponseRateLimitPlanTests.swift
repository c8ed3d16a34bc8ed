import ArgusConfig
import NIOCore
import Testing
@testable import ArgusRateLimit

/// Kong 3.9's `response-ratelimiting` decisions (`access.lua`, `header_filter.lua`,
/// `policies/init.lua`) on a plan and the local store, without sockets.
@Suite struct ResponseRateLimitPlanTests {
    static let t0: Int64 = 1_700_000_040_000  // 2023-11-14T22:14:00Z

    static func plan(_ limits: String, _ extra: [String: JSONValue] = [:], route: String? = "r1") -> ResponseRateLimitPlan {
        var errors: [FieldError] = []
        var fields = extra
        fields["limits"] = try! JSONValue.parseYAMLish(limits)
        let config = ResponseRateLimitingPluginSchema.schema.validate(.object(fields), "config", &errors)
        precondition(errors.isEmpty, "\(errors)")
        return ResponseRateLimitPlan(plugin: Plugin(id: "p", name: "response-ratelimiting", config: config, routeID: route), index: 7)
    }

    @Test func headerParsingIsKongs() {
        let p = Self.plan(#"{"video": {"second": 10}, "image": {"minute": 5}}"#)
        // limits in name order: image 0, video 1
        #expect(p.limits.map(\.name) == ["image", "video"])
        #expect(p.increments("video=1").map { [$0.limit, Int($0.value)] } == [[1, 1]])
        #expect(p.increments(" video = 2 , image=3").map { [$0.limit, Int($0.value)] } == [[1, 2], [0, 3]])
        #expect(p.increments("video=2, test=10").count == 1)  // a name that is not a configured limit
        #expect(p.increments("video=abc").isEmpty)  // Lua's tonumber: nil
        #expect(p.increments("video").isEmpty && p.increments("video=1=2").isEmpty && p.increments(nil).isEmpty)
        #expect(p.increments("video=1, video=4").map(\.value) == [4])  // the last one wins, as in a Lua table
    }

    /// The lines a writer wrote.
    static func lines(_ write: (inout ByteBuffer) -> Void) -> [String] {
        var out = ByteBuffer()
        write(&out)
        return String(buffer: out).split(separator: "\r\n").map(String.init)
    }

    @Test func accessHeadersAndBlockOnFirstViolation() {
        let p = Self.plan(#"{"video": {"second": 10, "minute": 20}, "image": {"second": 4}}"#)
        let usage = p.usage(spent: [1, 7, 2])  // image second, video second, video minute
        #expect(p.refusal(usage) == nil)
        #expect(Self.lines { p.writeAccessHeaders(usage, into: &$0) } == ["X-RateLimit-Remaining-image: 3", "X-RateLimit-Remaining-video: 3"])
        #expect(Self.lines { p.writeAccessHeaders(p.usage(spent: [6, 0, 0]), into: &$0) }.first == "X-RateLimit-Remaining-image: -2")
        let blocking = Self.plan(#"{"video": {"second": 10}, "image": {"second": 4}}"#, ["block_on_first_violation": .bool(true)])
        #expect(blocking.refusal(blocking.usage(spent: [4, 0])) == "image")
        #expect(blocking.refusal(blocking.usage(spent: [3, 0])) == nil)
    }

    @Test func responseHeadersAndTheStop() {
        let p = Self.plan(#"{"video": {"second": 10}}"#)
        var stop = true
        let fresh = Self.lines { stop = p.writeResponseHeaders(p.usage(spent: [4]), increments: [(0, 1)], into: &$0) }
        #expect(fresh == ["X-RateLimit-Limit-video-second: 10", "X-RateLimit-Remaining-video-second: 5"])
        #expect(!stop)
        // spending a spent limit stops the response; spending nothing never does
        var out = ByteBuffer()
        #expect(p.writeResponseHeaders(p.usage(spent: [10]), increments: [(0, 1)], into: &out))
        #expect(!p.writeResponseHeaders(p.usage(spent: [10]), increments: [], into: &out))
        #expect(Self.lines { _ = p.writeResponseHeaders(p.usage(spent: [12]), increments: [(0, 1)], into: &$0) }.last == "X-RateLimit-Remaining-video-second: 0")
        let hidden = Self.plan(#"{"video": {"second": 10}}"#, ["hide_client_headers": .bool(true)])
        var quiet = ByteBuffer()
        #expect(hidden.writeResponseHeaders(hidden.usage(spent: [10]), increments: [(0, 1)], into: &quiet) && quiet.readableBytes == 0)
    }

    @Test func theLocalStoreCountsPerWindowIdentifierAndScope() {
        let store = ResponseCounterStore()
        let p = Self.plan(#"{"video": {"second": 10, "minute": 20}}"#)
        store.add(p, identifier: "1.2.3.4", nowMs: Self.t0, increments: [(0, 3)])
        store.add(p, identifier: "1.2.3.4", nowMs: Self.t0 + 500, increments: [(0, 2)])
        #expect(store.spent(p, identifier: "1.2.3.4", nowMs: Self.t0 + 900) == [5, 5])
        // the next second: its window is new, the minute's goes on
        #expect(store.spent(p, identifier: "1.2.3.4", nowMs: Self.t0 + 1_000) == [0, 5])
        #expect(store.spent(p, identifier: "5.6.7.8", nowMs: Self.t0) == [0, 0])
        let other = Self.plan(#"{"video": {"second": 10, "minute": 20}}"#, route: "r2")
        #expect(store.spent(other, identifier: "1.2.3.4", nowMs: Self.t0) == [0, 0])
        #expect(store.sweep(nowMs: Self.t0 + 1_000) == 1)
        #expect(store.sweep(nowMs: Self.t0 + 60_000) == 1)
    }

    @Test func kongsCounterKeys() {
        let p = Self.plan(#"{"video": {"minute": 20}}"#)
        #expect(p.key(identifier: "1.2.3.4", limit: 0, period: .minute, nowMs: Self.t0 + 5_000)
            == "response-ratelimit:r1:00000000-0000-0000-0000-000000000000:1.2.3.4:\(Self.t0):video:minute")
        #expect(p.identifier(consumerID: nil, credentialID: "c", clientIP: "ip") == "c")
        #expect(p.identifier(consumerID: "u", credentialID: "c", clientIP: "ip") == "u")
    }
}

extension JSONValue {
    /// JSON text as a value (the tests' limits).
    static func parseYAMLish(_ text: String) throws -> JSONValue {
        try ConfigLoader.parse(text: "_format_version: \"3.0\"\nplugins: [{name: response-ratelimiting, config: {limits: \(text)}}]", file: "t.yml")
            .plugins[0].config["limits"] ?? .null
    }
}
