/// One of Kong's six rate-limiting windows. Windows are fixed and aligned to UTC calendar
/// boundaries: a minute starts at :00, a day at midnight UTC, a month on its first day, a year on
/// January 1st.
public enum RateLimitPeriod: Int, Sendable, CaseIterable, Comparable {
    case second = 1, minute, hour, day, month, year

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public init?(name: String) {
        guard let i = Self.names.firstIndex(of: name) else { return nil }
        self.init(rawValue: i + 1)
    }

    static let names = ["second", "minute", "hour", "day", "month", "year"]

    /// `second`, `minute`, … as in the plugin's config.
    public var name: String { Self.names[rawValue - 1] }

    /// `Second`, `Minute`, … as in `X-RateLimit-Limit-Minute`.
    public var headerSuffix: StaticString {
        switch self {
        case .second: "Second"
        case .minute: "Minute"
        case .hour: "Hour"
        case .day: "Day"
        case .month: "Month"
        case .year: "Year"
        }
    }

    /// Kong's nominal window length in seconds (month = 30 days, year = 365 days), used for
    /// `RateLimit-Reset` and for Redis key expiry.
    public var nominalSeconds: Int64 {
        switch self {
        case .second: return 1
        case .minute: return 60
        case .hour: return 3600
        case .day: return 86400
        case .month: return 2_592_000
        case .year: return 31_536_000
        }
    }

    /// Start of the window containing `ms` (milliseconds since the Unix epoch, UTC).
    public func windowStart(ms: Int64) -> Int64 {
        switch self {
        case .second, .minute, .hour, .day:
            let length = nominalSeconds * 1000
            return ms - Self.floorMod(ms, length)
        case .month, .year:
            let days = Self.floorDiv(ms, 86_400_000)
            let (y, m, _) = Self.civil(fromDays: days)
            return Self.days(year: y, month: self == .year ? 1 : m, day: 1) * 86_400_000
        }
    }

    /// Start of the window after the one containing `ms`.
    public func nextWindowStart(ms: Int64) -> Int64 {
        switch self {
        case .second, .minute, .hour, .day:
            return windowStart(ms: ms) + nominalSeconds * 1000
        case .month, .year:
            let (y, m, _) = Self.civil(fromDays: Self.floorDiv(ms, 86_400_000))
            if self == .year { return Self.days(year: y + 1, month: 1, day: 1) * 86_400_000 }
            return (m == 12 ? Self.days(year: y + 1, month: 1, day: 1) : Self.days(year: y, month: m + 1, day: 1)) * 86_400_000
        }
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day number (Hinnant's `civil_from_days`).
    static func civil(fromDays z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
