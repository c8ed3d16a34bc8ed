import Foundation
import Testing
@testable import ArgusEvents

/// Counts what it receives and checks order per lane; optionally slow.
final class CountingExporter: EventExporter, @unchecked Sendable {
    let name: String
    private let lock = NSLock()
    private var checker: StreamChecker
    private var finishedCount = 0
    private let delay: Duration?
    /// While set, ``afterBatch()`` does not return (an exporter stuck on its output).
    private var holding = false

    init(name: String, lanes: Int, delay: Duration? = nil) {
        self.name = name
        self.delay = delay
        checker = StreamChecker(lanes: lanes, gapless: delay == nil)
    }

    func receive(_ events: UnsafeBufferPointer<RequestEvent>) {
        lock.lock()
        checker.check(events)
        lock.unlock()
    }

    func afterBatch() {
        if let delay { Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18) }
        while lock.withLock({ holding }) { Thread.sleep(forTimeInterval: 0.001) }
    }

    func hold() { lock.withLock { holding = true } }
    func release() { lock.withLock { holding = false } }

    func finish() async {
        lock.withLock { finishedCount += 1 }
    }

    var received: UInt64 { lock.lock(); defer { lock.unlock() }; return checker.delivered }
    var failures: [String] { lock.lock(); defer { lock.unlock() }; return checker.failures }
    var finishes: Int { lock.lock(); defer { lock.unlock() }; return finishedCount }
}

@Suite("Exporter runners")
struct ExporterRunnerTests {
    @Test(.timeLimit(.minutes(5)))
    func stopDeliversEveryEventPublishedBeforeIt() async throws {
        let ring = EventRing(capacity: 1 << 14, lanes: 2)
        let exporter = CountingExporter(name: "all", lanes: 2)
        let runner = ExporterRunner(ring: ring, exporter: exporter, batchSize: 256)
        let task = Task { await runner.run() }
        onThreads(2) { lane in
            let producer = ring.producer(lane: lane)
            for s in 0..<UInt64(10_000) { producer.publish(makeEvent(lane: lane, sequence: s)) }
        }
        runner.stop()
        await task.value
        #expect(runner.isFinished)
        #expect(exporter.received == 20_000)
        #expect(runner.consumer.dropped == 0)
        #expect(exporter.failures.isEmpty)
        #expect(exporter.finishes == 1)
    }

    @Test(.timeLimit(.minutes(5)))
    func aSlowExporterLosesOnlyItsOwnEventsAndCountsThem() async throws {
        let ring = EventRing(capacity: 256, lanes: 1)
        let fast = CountingExporter(name: "fast", lanes: 1)
        let slow = CountingExporter(name: "slow", lanes: 1, delay: .milliseconds(20))
        // Stuck after its first batch until every burst is out (on any machine, however slow:
        // ThreadSanitizer's build is ~25x slower), so the producer laps it.
        slow.hold()
        let fastRunner = ExporterRunner(ring: ring, exporter: fast, batchSize: 64)
        let slowRunner = ExporterRunner(ring: ring, exporter: slow, batchSize: 64)
        let tasks = [Task { await fastRunner.run() }, Task { await slowRunner.run() }]
        let producer = ring.producer(lane: 0)
        // Publish in bursts that the fast runner keeps up with (it is never more than a ring behind).
        for burst in 0..<40 {
            for s in 0..<UInt64(100) { producer.publish(makeEvent(lane: 0, sequence: UInt64(burst) * 100 + s)) }
            while fastRunner.consumer.lag > 0 { try await Task.sleep(for: .milliseconds(1)) }
        }
        slow.release()
        fastRunner.stop()
        slowRunner.stop()
        for task in tasks { await task.value }
        #expect(fast.received == 4_000 && fastRunner.consumer.dropped == 0)
        #expect(slowRunner.consumer.dropped > 0)
        #expect(slow.received + slowRunner.consumer.dropped == 4_000)
        #expect(slow.failures.isEmpty)
        let stats = Dictionary(uniqueKeysWithValues: ring.consumerStatistics().map { ($0.name, $0) })
        #expect(stats["slow"]?.dropped == slowRunner.consumer.dropped)
        #expect(stats["fast"]?.dropped == 0)
    }

    @Test(.timeLimit(.minutes(5)))
    func cancellationFlushesToo() async throws {
        let ring = EventRing(capacity: 1024, lanes: 1)
        let exporter = CountingExporter(name: "c", lanes: 1)
        let runner = ExporterRunner(ring: ring, exporter: exporter)
        let producer = ring.producer(lane: 0)
        for s in 0..<UInt64(500) { producer.publish(makeEvent(lane: 0, sequence: s)) }
        let task = Task { await runner.run() }
        task.cancel()
        await task.value
        #expect(exporter.received == 500)
        #expect(exporter.finishes == 1)
    }
}
