import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A thread's sleep that ``wake()`` ends early, and every later one at once (a stopping exporter or
/// sender does not sit out its poll or its backoff): `poll` on a pipe with a relative timeout (the
/// kernel times it on the monotonic clock, so a step of the wall clock neither stretches nor cuts
/// a sleep); ``wake()`` makes the pipe readable for good. Not a condition variable: under
/// ThreadSanitizer a condition's clock attribute is lost and a monotonic deadline reads as long past.
public final class Nap: Sendable {
    private let readEnd: Int32
    private let writeEnd: Int32
    private let woken = Atomic<Bool>(false)

    public init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        if readEnd >= 0 { close(readEnd) }
        if writeEnd >= 0 { close(writeEnd) }
    }

    public func sleep(for duration: Duration) {
        guard !woken.load(ordering: .acquiring) else { return }
        let (seconds, attoseconds) = duration.components
        let milliseconds = max(0, seconds) * 1000 + (max(0, attoseconds) + 999_999_999_999_999) / 1_000_000_000_000_000
        var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        // An interrupted sleep ends early, as a wake-up would: the callers loop anyway.
        _ = poll(&entry, 1, Int32(clamping: milliseconds))
    }

    public func wake() {
        guard !woken.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }
}
