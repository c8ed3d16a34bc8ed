import Synchronization

/// Drives one ``EventExporter``: its own ``EventConsumer`` on the ring, drained in batches from an
/// ordinary task (never on an event loop), so a slow exporter delays nothing but itself; when it
/// falls more than the ring's capacity behind, it loses its own oldest events, counted.
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
        var idleSleep = max(exporter.pollInterval, .milliseconds(1))
        while true {
            let n = consumer.drain(max: batchSize) { exporter.receive($0) }
            if n > 0 { await exporter.afterBatch() }
            if n == batchSize { continue }
            if stopping.load(ordering: .acquiring) || Task.isCancelled { break }
            let pollInterval = max(exporter.pollInterval, .milliseconds(1))  // never a busy loop
            if n > 0 {
                idleSleep = pollInterval
                try? await Task.sleep(for: pollInterval)
            } else {
                idleSleep = min(max(idleSleep, pollInterval), max(pollInterval, maxIdleSleep))
                try? await Task.sleep(for: idleSleep)
                idleSleep = min(idleSleep * 2, max(pollInterval, maxIdleSleep))
            }
        }
        await flush()
    }

    /// Asks ``run()`` to flush and return. Call it after the producers have stopped publishing.
    public func stop() {
        stopping.store(true, ordering: .releasing)
    }

    /// True once ``run()`` has delivered its final flush and returned.
    public var isFinished: Bool { finished.load(ordering: .acquiring) }

    private func flush() async {
        let position = ring.publishedPosition()
        while !consumer.hasConsumed(through: position) {
            if consumer.drain(through: position, max: batchSize, { exporter.receive($0) }) > 0 {
                await exporter.afterBatch()
            }
        }
        await exporter.finish()
        finished.store(true, ordering: .releasing)
    }
}
