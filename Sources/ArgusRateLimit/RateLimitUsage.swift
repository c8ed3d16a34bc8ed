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
    /// on a rejection. With `hideClientHeaders` none of them, not even `Retry-After` (Kong's handler).
    public func writeHeaders(_ settings: RateLimitSettings, into out: inout ByteBuffer) {
        guard let restrictive = mostRestrictive(settings.limits) else { return }
        if settings.hideClientHeaders { return }
        // Formed in place, in one reservation of the buffer: at most 27 + 31 bytes of names and
        // 2 × (20 + 2) of values per window, 75 + 3 × 22 for the RateLimit-* lines, 13 + 22 for
        // Retry-After (a dozen separate ByteBuffer writes cost more than the lines' bytes).
        let bound = settings.limits.count * 102 + 141 + 35
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { buffer in
            var line = LineWriter(buffer.baseAddress!)
            for (period, limit) in settings.limits {
                line.put("X-RateLimit-Limit-")
                line.put(period.headerSuffix)
                line.put(": ")
                line.put(decimal: limit)
                line.put("\r\nX-RateLimit-Remaining-")
                line.put(period.headerSuffix)
                line.put(": ")
                line.put(decimal: remaining[period])
                line.put("\r\n")
            }
            line.put("RateLimit-Limit: ")
            line.put(decimal: restrictive.limit)
            line.put("\r\nRateLimit-Remaining: ")
            line.put(decimal: restrictive.remaining)
            line.put("\r\nRateLimit-Reset: ")
            line.put(decimal: restrictive.reset)
            line.put("\r\n")
            if !admitted {
                line.put("Retry-After: ")
                line.put(decimal: restrictive.reset)
                line.put("\r\n")
            }
            precondition(line.count <= bound)
            return line.count
        }
    }

    /// Writes header text at a raw pointer the caller has reserved room at.
    private struct LineWriter {
        let base: UnsafeMutableRawPointer
        var count = 0

        init(_ base: UnsafeMutableRawPointer) { self.base = base }

        mutating func put(_ text: StaticString) {
            (base + count).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
            count += text.utf8CodeUnitCount
        }

        /// A non-negative decimal (negative values as 0), at most 19 digits.
        mutating func put(decimal value: Int64) {
            var v = UInt64(max(0, value))
            var digits = 1
            var scale: UInt64 = 10
            while digits < 19 && v >= scale {
                digits += 1
                scale &*= 10
            }
            var i = count + digits
            repeat {
                i -= 1
                base.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10), toByteOffset: i, as: UInt8.self)
                v /= 10
            } while v > 0
            count += digits
        }
    }

    /// A non-negative integer in decimal, without going through `String`: the digits formed on
    /// the stack, then one write.
    static func writeDecimal(_ value: Int64, into out: inout ByteBuffer) {
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: 19) { buffer in
            var line = LineWriter(buffer.baseAddress!)
            line.put(decimal: value)
            return line.count
        }
    }
}
