/// One integer per rate-limiting period, stored inline (no allocation on the request path).
public struct PeriodValues: Sendable, Equatable {
    private var second: Int64 = 0, minute: Int64 = 0, hour: Int64 = 0, day: Int64 = 0, month: Int64 = 0, year: Int64 = 0

    public init() {}

    public subscript(period: RateLimitPeriod) -> Int64 {
        get {
            switch period {
            case .second: return second
            case .minute: return minute
            case .hour: return hour
            case .day: return day
            case .month: return month
            case .year: return year
            }
        }
        set {
            switch period {
            case .second: second = newValue
            case .minute: minute = newValue
            case .hour: hour = newValue
            case .day: day = newValue
            case .month: month = newValue
            case .year: year = newValue
            }
        }
    }
}
