/// A token bucket over what a client may do often but not without end (PINGs, SETTINGS, resets,
/// malformed streams): `burst` at once, refilled at `perSecond`. Spending from an empty bucket is
/// the flood. Time is passed in (nanoseconds of a monotonic clock), so it is testable. Pure.
struct FloodGuard: Equatable {
    let burst: Double
    let perSecond: Double
    private var tokens: Double
    private var last: UInt64?

    init(burst: Int, perSecond: Int) {
        self.burst = Double(burst)
        self.perSecond = Double(perSecond)
        self.tokens = Double(burst)
    }

    /// Takes one token at `now`; false when none is left.
    mutating func spend(now: UInt64) -> Bool {
        if let last, now > last {
            tokens = min(burst, tokens + Double(now - last) / 1e9 * perSecond)
        }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
