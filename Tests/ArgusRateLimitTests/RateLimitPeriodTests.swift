import Testing
@testable import ArgusRateLimit

@Suite struct RateLimitPeriodTests {
    /// 2024-02-29T23:59:59.500Z, a leap day.
    static let leapDayLastSecond: Int64 = 1_709_251_199_500

    @Test func fixedLengthWindowsAlignToUTC() {
        let t = Self.leapDayLastSecond
        #expect(RateLimitPeriod.second.windowStart(ms: t) == 1_709_251_199_000)
        #expect(RateLimitPeriod.minute.windowStart(ms: t) == 1_709_251_140_000)
        #expect(RateLimitPeriod.hour.windowStart(ms: t) == 1_709_247_600_000)
        #expect(RateLimitPeriod.day.windowStart(ms: t) == 1_709_164_800_000)  // 2024-02-29T00:00Z
        #expect(RateLimitPeriod.second.nextWindowStart(ms: t) == 1_709_251_200_000)
        #expect(RateLimitPeriod.day.nextWindowStart(ms: t) == 1_709_251_200_000)  // 2024-03-01T00:00Z
    }

    @Test func monthsAndYearsFollowTheCalendar() {
        let t = Self.leapDayLastSecond
        #expect(RateLimitPeriod.month.windowStart(ms: t) == 1_706_745_600_000)  // 2024-02-01
        #expect(RateLimitPeriod.month.nextWindowStart(ms: t) == 1_709_251_200_000)  // 2024-03-01
        #expect(RateLimitPeriod.year.windowStart(ms: t) == 1_704_067_200_000)  // 2024-01-01
        #expect(RateLimitPeriod.year.nextWindowStart(ms: t) == 1_735_689_600_000)  // 2025-01-01
        // December rolls into January of the next year.
        let dec = Int64(1_735_603_200_000)  // 2024-12-31
        #expect(RateLimitPeriod.month.windowStart(ms: dec) == 1_733_011_200_000)  // 2024-12-01
        #expect(RateLimitPeriod.month.nextWindowStart(ms: dec) == 1_735_689_600_000)  // 2025-01-01
        // Before the epoch too.
        #expect(RateLimitPeriod.year.windowStart(ms: -1) == -31_536_000_000)  // 1969-01-01
        #expect(RateLimitPeriod.second.windowStart(ms: -1) == -1000)
    }

    @Test func civilDatesRoundTrip() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (y, m, d) = RateLimitPeriod.civil(fromDays: days)
            #expect(RateLimitPeriod.days(year: y, month: m, day: d) == days)
        }
    }

    @Test func namesAndHeaders() {
        #expect(RateLimitPeriod(name: "minute") == .minute)
        #expect(RateLimitPeriod(name: "week") == nil)
        #expect(RateLimitPeriod.allCases.map { "\($0.headerSuffix)" } == ["Second", "Minute", "Hour", "Day", "Month", "Year"])
    }
}
