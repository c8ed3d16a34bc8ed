#if canImport(Glibc)
import Glibc
#endif

/// Turns monotonic event timestamps into wall-clock time: one (wall, monotonic) pair read at start.
public struct WallClock: Sendable {
    let wallAtAnchor: UInt64
    let monotonicAtAnchor: UInt64

    public init() {
        var mono = timespec(), real = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &real)
        monotonicAtAnchor = UInt64(mono.tv_sec) * 1_000_000_000 + UInt64(mono.tv_nsec)
        wallAtAnchor = UInt64(real.tv_sec) * 1_000_000_000 + UInt64(real.tv_nsec)
    }

    /// Wall-clock nanoseconds since the epoch, now.
    func now() -> UInt64 {
        var real = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        return UInt64(real.tv_sec) * 1_000_000_000 + UInt64(real.tv_nsec)
    }

    /// Wall-clock nanoseconds since the epoch for a monotonic timestamp.
    func wallNanos(monotonic: UInt64) -> UInt64 {
        monotonic >= monotonicAtAnchor ? wallAtAnchor &+ (monotonic - monotonicAtAnchor) : wallAtAnchor &- (monotonicAtAnchor - monotonic)
    }
}
