#if canImport(Glibc)
import ArgusSnapshot
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real-time clock, read without Foundation.
public enum WallClock {
    @Sendable
    public static func milliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
