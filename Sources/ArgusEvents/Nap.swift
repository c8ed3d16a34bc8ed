#if canImport(Glibc)
import Glibc
#endif

/// A thread's sleep on a condition that ``wake()`` ends early, and every later one at once (a
/// stopping exporter or sender does not sit out its poll or its backoff). Timed on the monotonic
/// clock: a step of the wall clock neither stretches nor cuts a sleep.
///
/// `@unchecked Sendable`: `woken` is only touched with the mutex held.
public final class Nap: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var woken = false

    public init() {
        pthread_mutex_init(mutex, nil)
        let attributes = UnsafeMutablePointer<pthread_condattr_t>.allocate(capacity: 1)
        pthread_condattr_init(attributes)
        pthread_condattr_setclock(attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, attributes)
        pthread_condattr_destroy(attributes)
        attributes.deallocate()
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func sleep(for duration: Duration) {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let (seconds, attoseconds) = duration.components
        let nanos = Int(deadline.tv_nsec) + Int(max(0, attoseconds) / 1_000_000_000)
        deadline.tv_sec += Int(max(0, seconds)) + nanos / 1_000_000_000
        deadline.tv_nsec = nanos % 1_000_000_000
        pthread_mutex_lock(mutex)
        while !woken {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { break }
        }
        pthread_mutex_unlock(mutex)
    }

    public func wake() {
        pthread_mutex_lock(mutex)
        woken = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
