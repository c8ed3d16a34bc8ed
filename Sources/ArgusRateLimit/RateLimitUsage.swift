import NIOCore

/// The outcome of one rate-limit check: whether the request is admitted, the quota left in each
/// configured window after it, and when the most restrictive window resets.
public struct RateLimitUsage: Sendable, Equatable {
    /// The window whose limit rejected the request; nil when admitted.
    public var stop: RateLimitPeriod?
    /// Requests still allowed in each configured window after this one (never negative).
    public var remaining = PeriodValues()
    /// Requests counted in each window (for the sliding algorithm, including the weighted part of
    /// the previous window); filled by peeks, for the Admin API's usage view.
    public var used = PeriodValues()
    /// When the check ran (ms since the epoch, UTC).
    public var nowMs: Int64

    public init(stop: RateLimitPeriod? = nil, nowMs: Int64) {
        self.stop = stop
        self.nowMs = nowMs
    }

    public var admitted: Bool { stop == nil }

    /// Kong's choice for `RateLimit-*`: the window with the least remaining, the longer one on a
    /// tie; and its reset, seconds to the end of the window counted with Kong's nominal lengths
    /// (month 30 days, year 365 days), at least 1.
    public func mostRestrictive(_ limits: [(period: RateLimitPeriod, limit: Int64)]) -> (period: RateLimitPeriod, limit: Int64, remaining: Int64, reset: Int64)? {
        var best: (period: RateLimitPeriod, limit: Int64, remaining: Int64)?
        for (period, limit) in limits {
            let left = remaining[period]
            if best == nil || left < best!.remaining || (left == best!.remaining && period > best!.period) {
                best = (period, limit, left)
            }
        }
        guard let best else { return nil }
        let elapsed = (nowMs - best.period.windowStart(ms: nowMs)) / 1000
        return (best.period, best.limit, best.remaining, max(1, best.period.nominalSeconds - elapsed))
    }

    /// Writes Kong's headers as header lines (`Name: value\r\n`): per window
    /// `X-RateLimit-Limit-<Period>` and `X-RateLimit-Remaining-<Period>`, then `RateLimit-Limit`,
    /// `RateLimit-Remaining`, `RateLimit-Reset` for the most restrictive window, and `Retry-After`
    /// on a rejection. With `hideClientHeaders` none, `Retry-After` included (Kong's handler).
    public func writeHeaders(_ settings: RateLimitSettings, into out: inout ByteBuffer) {
        guard let restrictive = mostRestrictive(settings.limits) else { return }
        if !settings.hideClientHeaders {
            for (period, limit) in settings.limits {
                out.writeStaticString("X-RateLimit-Limit-")
                out.writeStaticString(period.headerSuffix)
                out.writeStaticString(": ")
                Self.writeDecimal(limit, into: &out)
                out.writeStaticString("\r\nX-RateLimit-Remaining-")
                out.writeStaticString(period.headerSuffix)
                out.writeStaticString(": ")
                Self.writeDecimal(remaining[period], into: &out)
                out.writeStaticString("\r\n")
            }
            out.writeStaticString("RateLimit-Limit: ")
            Self.writeDecimal(restrictive.limit, into: &out)
            out.writeStaticString("\r\nRateLimit-Remaining: ")
            Self.writeDecimal(restrictive.remaining, into: &out)
            out.writeStaticString("\r\nRateLimit-Reset: ")
            Self.writeDecimal(restrictive.reset, into: &out)
            out.writeStaticString("\r\n")
        }
        if !admitted && !settings.hideClientHeaders {
            out.writeStaticString("Retry-After: ")
            Self.writeDecimal(restrictive.reset, into: &out)
            out.writeStaticString("\r\n")
        }
    }

    /// A non-negative integer in decimal, without going through `String`: the digits formed on
    /// the stack, then one write.
    static func writeDecimal(_ value: Int64, into out: inout ByteBuffer) {
        var v = UInt64(max(0, value))
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var i = 20
            repeat {
                i -= 1
                digits[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                v /= 10
            } while v > 0
            out.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[i...]))
        }
    }
}
