import ArgusConfig
import Foundation
import NIOCore
import Testing
@testable import ArgusRateLimit

@Suite struct LocalCounterStoreTests {
    static let t0: Int64 = 1_700_000_040_000  // 2023-11-14T22:14:00Z, the start of a minute

    static func settings(_ fields: [String: JSONValue]) -> RateLimitSettings {
        var errors: [FieldError] = []
        let config = RateLimitingPluginSchema.schema.validate(.object(fields), "config", &errors)
        precondition(errors.isEmpty, "\(errors)")
        return RateLimitSettings(config: config)
    }

    @Test func admitsTheLimitThenRejectsAndCountsNothingRejected() {
        let store = LocalCounterStore()
        let limits = Self.settings(["minute": .int(5)]).limits
        var remaining: [Int64] = []
        for i in 0..<5 {
            let usage = store.check(scope: "s", identifier: "ip", limits: limits, algorithm: .fixed, nowMs: Self.t0 + Int64(i))
            #expect(usage.admitted)
            remaining.append(usage.remaining[.minute])
        }
        #expect(remaining == [4, 3, 2, 1, 0])
        for _ in 0..<3 {
            let usage = store.check(scope: "s", identifier: "ip", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 100)
            #expect(usage.stop == .minute)
            #expect(usage.remaining[.minute] == 0)
        }
        // A new minute: a fresh window, and rejected requests were never counted.
        let next = store.check(scope: "s", identifier: "ip", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 60_000)
        #expect(next.admitted && next.remaining[.minute] == 4)
        // Other identifiers and scopes have their own counters.
        #expect(store.check(scope: "s", identifier: "other", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 1).admitted)
        #expect(store.check(scope: "t", identifier: "ip", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 1).admitted)
    }

    @Test func everyWindowIsCheckedAndARejectionCountsInNone() {
        let store = LocalCounterStore()
        let limits = Self.settings(["second": .int(2), "minute": .int(3)]).limits
        #expect(store.check(scope: "s", identifier: "a", limits: limits, algorithm: .fixed, nowMs: Self.t0).admitted)
        #expect(store.check(scope: "s", identifier: "a", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 10).admitted)
        let third = store.check(scope: "s", identifier: "a", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 20)
        #expect(third.stop == .second)
        // Kong: the exhausted window shows 0, the others what is left without this request.
        #expect(third.remaining[.second] == 0 && third.remaining[.minute] == 1)
        let fourth = store.check(scope: "s", identifier: "a", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 1000)
        #expect(fourth.admitted && fourth.remaining[.minute] == 0 && fourth.remaining[.second] == 1)
        let fifth = store.check(scope: "s", identifier: "a", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 1001)
        #expect(fifth.stop == .minute)
    }

    @Test func exactUnderConcurrency() async {
        let store = LocalCounterStore()
        let limits = Self.settings(["second": .int(1000), "minute": .int(1000)]).limits
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var n = 0
                    for i in 0..<500 where store.check(
                        scope: "s", identifier: "hot", limits: limits, algorithm: .fixed, nowMs: Self.t0 + Int64(i % 900)
                    ).admitted {
                        n += 1
                    }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted == 1000)
        let after = store.peek(scope: "s", identifier: "hot", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 950)
        #expect(after.remaining[.second] == 0 && after.remaining[.minute] == 0)
    }

    @Test func slidingWindowWeighsThePreviousWindow() {
        let store = LocalCounterStore()
        let limits = Self.settings(["minute": .int(10), "algorithm": .string("sliding")]).limits
        for i in 0..<10 {
            #expect(store.check(scope: "s", identifier: "a", limits: limits, algorithm: .sliding, nowMs: Self.t0 + 50_000 + Int64(i)).admitted)
        }
        // 15 s into the next minute, 45 s of the previous one still count: 10 × 0.75 = 7 → 3 more.
        var admitted = 0
        for i in 0..<10 where store.check(
            scope: "s", identifier: "a", limits: limits, algorithm: .sliding, nowMs: Self.t0 + 75_000 + Int64(i)
        ).admitted {
            admitted += 1
        }
        #expect(admitted == 3)
        // A fixed window would have allowed the whole limit again at once (the double burst).
        let fixed = LocalCounterStore()
        for i in 0..<10 { _ = fixed.check(scope: "s", identifier: "a", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 50_000 + Int64(i)) }
        var fixedAdmitted = 0
        for i in 0..<10 where fixed.check(scope: "s", identifier: "a", limits: limits, algorithm: .fixed, nowMs: Self.t0 + 60_001 + Int64(i)).admitted {
            fixedAdmitted += 1
        }
        #expect(fixedAdmitted == 10)
    }

    @Test func sweepForgetsEndedWindows() {
        let store = LocalCounterStore()
        let limits = Self.settings(["second": .int(5)]).limits
        for i in 0..<100 { _ = store.check(scope: "s", identifier: "ip\(i)", limits: limits, algorithm: .fixed, nowMs: Self.t0) }
        #expect(store.count == 100)
        #expect(store.sweep(nowMs: Self.t0 + 500) == 0)
        #expect(store.sweep(nowMs: Self.t0 + 2_000) == 100)
        #expect(store.count == 0)
    }

    @Test func headersFollowKong() {
        let settings = Self.settings(["second": .int(2), "minute": .int(10)])
        var usage = RateLimitUsage(nowMs: Self.t0 + 20_250)
        usage.remaining[.second] = 1
        usage.remaining[.minute] = 1
        var out = ByteBuffer()
        usage.writeHeaders(settings, into: &out)
        // Tie on remaining: the longer window is the most restrictive; reset = 60 - 20 s.
        #expect(String(buffer: out) == """
            X-RateLimit-Limit-Second: 2\r
            X-RateLimit-Remaining-Second: 1\r
            X-RateLimit-Limit-Minute: 10\r
            X-RateLimit-Remaining-Minute: 1\r
            RateLimit-Limit: 10\r
            RateLimit-Remaining: 1\r
            RateLimit-Reset: 40\r

            """)
        usage.stop = .second
        usage.remaining[.second] = 0
        out.clear()
        usage.writeHeaders(settings, into: &out)
        #expect(String(buffer: out).hasSuffix("RateLimit-Limit: 2\r\nRateLimit-Remaining: 0\r\nRateLimit-Reset: 1\r\nRetry-After: 1\r\n"))
        // Hidden headers: none at all, Retry-After included (Kong hides it too).
        let hidden = Self.settings(["second": .int(2), "hide_client_headers": .bool(true)])
        out.clear()
        usage.writeHeaders(hidden, into: &out)
        #expect(String(buffer: out) == "")
    }

    @Test func headersWithEveryWindowAndTheLargestValuesFitTheirReservation() {
        let big: Int64 = 9_000_000_000_000_000_000
        let periods = ["second", "minute", "hour", "day", "month", "year"]
        let settings = Self.settings(Dictionary(uniqueKeysWithValues: periods.map { ($0, JSONValue.int(Int(big))) }))
        var usage = RateLimitUsage(stop: .year, nowMs: Self.t0)
        for (period, _) in settings.limits { usage.remaining[period] = Int64.max }
        var out = ByteBuffer()
        usage.writeHeaders(settings, into: &out)
        let text = String(buffer: out)
        var expected = ""
        // (limits are kept at 9e15 at most; the remaining counts take all 19 digits)
        for (period, limit) in settings.limits {
            expected += "X-RateLimit-Limit-\(period.headerSuffix): \(limit)\r\nX-RateLimit-Remaining-\(period.headerSuffix): \(Int64.max)\r\n"
        }
        #expect(text.hasPrefix(expected))
        // the tie goes to the longest window, the year: its reset as Kong counts it (nominal length)
        let reset = RateLimitPeriod.year.nominalSeconds - (Self.t0 - RateLimitPeriod.year.windowStart(ms: Self.t0)) / 1000
        #expect(text.hasSuffix(
            "RateLimit-Limit: \(settings.limits.last!.limit)\r\nRateLimit-Remaining: \(Int64.max)\r\nRateLimit-Reset: \(reset)\r\nRetry-After: \(reset)\r\n"))
        #expect(settings.limits.count == 6)
    }

    @Test func decimalWriter() {
        for value: Int64 in [0, 7, 10, 99, 100, 12345, 9_000_000_000_000_000, -3] {
            var out = ByteBuffer()
            RateLimitUsage.writeDecimal(value, into: &out)
            #expect(String(buffer: out) == String(max(0, value)))
        }
    }
}
