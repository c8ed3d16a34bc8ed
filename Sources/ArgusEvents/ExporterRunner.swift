import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Drives one ``EventExporter``: its own ``EventConsumer`` on the ring, drained in batches on a
/// thread of its own (never an event loop's, never the concurrency pool's), so a slow exporter
/// delays nothing but itself; when it falls more than the ring's capacity behind, it loses its own
/// oldest events, counted. Between batches the thread sleeps on a condition (one futex wait and
/// one wake-up; a `Task.sleep` cost a dispatch timer thread's wake-up and a pool hop besides).
///
/// Shutdown: once the producers have stopped (the proxy has drained), ``stop()`` makes ``run()``
/// take the ring's published position, deliver everything up to it, call
/// ``EventExporter/finish()`` and return. Every event published before ``stop()`` therefore
/// reaches the exporter (or is counted as dropped, if it had already been overwritten).
public final class ExporterRunner: Sendable {
    public let exporter: any EventExporter
    public let consumer: EventConsumer
    private let ring: EventRing
    private let batchSize: Int
    private let maxIdleSleep: Duration
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    /// The drain thread's sleeps; ``stop()`` ends them.
    private let nap = Nap()

    /// Registers a consumer named after the exporter; it sees events published from now on.
    ///
    /// After a partial batch the runner sleeps the exporter's ``EventExporter/pollInterval`` before
    /// draining again, so that under load it wakes about `1 / pollInterval` times a second with
    /// many events each time, instead of once per event (a wake-up costs the event loops more than
    /// the events do). With the default 16,384-slot lanes, even 50 ms is far from overflowing at
    /// 100,000 events/s per lane (a full batch is followed at once by the next).
    public init(ring: EventRing, exporter: any EventExporter, batchSize: Int = 1024,
                maxIdleSleep: Duration = .milliseconds(50)) {
        self.ring = ring
        self.exporter = exporter
        self.batchSize = max(1, batchSize)
        self.maxIdleSleep = maxIdleSleep
        consumer = ring.makeConsumer(name: exporter.name, batchCapacity: self.batchSize)
    }

    /// Drains until ``stop()`` (or until the task is cancelled, which flushes the same way), then
    /// returns after the final flush. A full batch is followed at once by the next; after a partial
    /// one it sleeps `pollInterval`; idle, it backs off up to `maxIdleSleep`.
    public func run() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let name = "argus-x-" + exporter.name
                Thread {
                    ThreadName.set(name)
                    self.drainLoop()
                    done.resume()
                }.start()
            }
        } onCancel: {
            stop()
        }
        await flush()
    }

    private func drainLoop() {
        var idleSleep = max(exporter.pollInterval, .milliseconds(1))
        while true {
            let n = consumer.drain(max: batchSize) { exporter.receive($0) }
            if n > 0 { exporter.afterBatch() }
            if n == batchSize { continue }
            if stopping.load(ordering: .acquiring) { break }
            let pollInterval = max(exporter.pollInterval, .milliseconds(1))  // never a busy loop
            if n > 0 {
                idleSleep = pollInterval
                nap.sleep(for: pollInterval)
            } else {
                idleSleep = min(max(idleSleep, pollInterval), max(pollInterval, maxIdleSleep))
                nap.sleep(for: idleSleep)
                idleSleep = min(idleSleep * 2, max(pollInterval, maxIdleSleep))
            }
        }
    }

    /// Asks ``run()`` to flush and return. Call it after the producers have stopped publishing.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        nap.wake()
    }

    /// True once ``run()`` has delivered its final flush and returned.
    public var isFinished: Bool { finished.load(ordering: .acquiring) }

    private func flush() async {
        let position = ring.publishedPosition()
        while !consumer.hasConsumed(through: position) {
            if consumer.drain(through: position, max: batchSize, { exporter.receive($0) }) > 0 {
                exporter.afterBatch()
            }
        }
        await exporter.finish()
        finished.store(true, ordering: .releasing)
    }
}

/// Names the calling thread as `top -H`, `perf` and `/proc/<pid>/task/*/comm` show it (the first
/// 15 bytes; Glibc's `pthread_setname_np` is not visible to Swift).
public enum ThreadName {
    public static func set(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
