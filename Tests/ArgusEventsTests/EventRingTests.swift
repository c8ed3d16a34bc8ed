// The event ring under concurrency. scripts/test.sh also runs these under ThreadSanitizer:
//   swift test --sanitize=thread --scratch-path .build-tsan --filter ArgusEventsTests
import Foundation
import Synchronization
import Testing
@testable import ArgusEvents

@Suite struct EventRingTests {
    @Test func deliversInOrderToEveryConsumer() {
        let ring = EventRing(capacity: 64, lanes: 2)
        let a = ring.makeConsumer(name: "a"), b = ring.makeConsumer(name: "b")
        for s in 0..<40 { ring.producer(lane: s % 2).publish(makeEvent(lane: s % 2, sequence: UInt64(s / 2))) }
        for consumer in [a, b] {
            var checker = StreamChecker(lanes: 2, gapless: true)
            while consumer.drain(max: 7, { checker.check($0) }) > 0 {}
            #expect(checker.failures.isEmpty)
            #expect(checker.delivered == 40 && consumer.delivered == 40 && consumer.dropped == 0)
            #expect(consumer.lag == 0)
        }
        #expect(ring.totalPublished == 40)
    }

    @Test func consumerStartsAtTheCurrentEnd() {
        let ring = EventRing(capacity: 8, lanes: 1)
        let p = ring.producer(lane: 0)
        for s in 0..<5 { p.publish(makeEvent(lane: 0, sequence: UInt64(s))) }
        let late = ring.makeConsumer(name: "late")
        #expect(late.drain { _ in } == 0)
        p.publish(makeEvent(lane: 0, sequence: 5))
        var checker = StreamChecker(lanes: 1, gapless: true, start: 5)
        #expect(late.drain { checker.check($0) } == 1)
        #expect(checker.failures.isEmpty)
    }

    /// One consumer keeps up, one never drains until the end: the stalled one loses exactly its own
    /// oldest events (counted), the other loses nothing.
    @Test func stalledConsumerLosesOnlyItsOwnOldestEvents() {
        let ring = EventRing(capacity: 256, lanes: 1)
        let p = ring.producer(lane: 0)
        let fast = ring.makeConsumer(name: "fast"), stalled = ring.makeConsumer(name: "stalled")
        var fastChecker = StreamChecker(lanes: 1, gapless: true)
        let total: UInt64 = 10_000
        for s in 0..<total {
            p.publish(makeEvent(lane: 0, sequence: s))
            if s % 100 == 99 { while fast.drain(max: 64, { fastChecker.check($0) }) > 0 {} }
        }
        while fast.drain(max: 64, { fastChecker.check($0) }) > 0 {}
        #expect(fastChecker.failures.isEmpty)
        #expect(fast.delivered == total && fast.dropped == 0)

        #expect(stalled.lag == total)
        var stalledChecker = StreamChecker(lanes: 1, gapless: true, start: total - 256)
        while stalled.drain(max: 100, { stalledChecker.check($0) }) > 0 {}
        #expect(stalledChecker.failures.isEmpty)
        #expect(stalled.delivered == 256)
        #expect(stalled.dropped == total - 256)
        #expect(stalled.delivered + stalled.dropped == total)
        #expect(stalled.lag == 0)

        let stats = ring.consumerStatistics()
        #expect(stats.map(\.name) == ["fast", "stalled"])
        #expect(stats.map(\.dropped) == [0, total - 256])
    }

    @Test func wrapsAroundManyTimesOverASmallCapacity() {
        let ring = EventRing(capacity: 8, lanes: 1)
        let p = ring.producer(lane: 0)
        let c = ring.makeConsumer(name: "c")
        var checker = StreamChecker(lanes: 1, gapless: true)
        let total: UInt64 = 1_000_000  // 125,000 laps
        for s in 0..<total {
            p.publish(makeEvent(lane: 0, sequence: s))
            if s % 5 == 4 { c.drain(max: 8) { checker.check($0) } }
        }
        while c.drain(max: 8, { checker.check($0) }) > 0 {}
        #expect(checker.failures.isEmpty)
        #expect(c.delivered == total && c.dropped == 0)
    }

    /// Shutdown: everything published before a snapshot is consumed, and nothing after it.
    @Test func drainsThroughAPublishedPosition() {
        let ring = EventRing(capacity: 1024, lanes: 2)
        let c = ring.makeConsumer(name: "c")
        for s in 0..<300 { ring.producer(lane: s % 2).publish(makeEvent(lane: s % 2, sequence: UInt64(s / 2))) }
        let position = ring.publishedPosition()
        #expect(position.total == 300)
        for s in 300..<500 { ring.producer(lane: s % 2).publish(makeEvent(lane: s % 2, sequence: UInt64(s / 2))) }
        #expect(!c.hasConsumed(through: position))
        var checker = StreamChecker(lanes: 2, gapless: true)
        while !c.hasConsumed(through: position) { c.drain(through: position, max: 64) { checker.check($0) } }
        #expect(checker.failures.isEmpty)
        #expect(c.delivered == 300)
        #expect(c.lag == 200)
        #expect(c.drain(through: position) { _ in } == 0)
    }

    /// 4 producer threads x 200,000 events, 3 consumer threads draining concurrently; capacity holds
    /// everything, so every consumer must receive exactly every event, in order per producer.
    @Test func concurrentProducersAndConsumersDeliverExactly() {
        let lanes = 4, perLane: UInt64 = 200_000
        let ring = EventRing(capacity: 262_144, lanes: lanes)
        let consumers = (0..<3).map { ring.makeConsumer(name: "c\($0)") }
        let results = Results<StreamChecker>()
        let total = UInt64(lanes) * perLane
        onThreads(lanes + consumers.count) { i in
            if i < lanes {
                let p = ring.producer(lane: i)
                for s in 0..<perLane { p.publish(makeEvent(lane: i, sequence: s)) }
            } else {
                let c = consumers[i - lanes]
                var checker = StreamChecker(lanes: lanes, gapless: true)
                let deadline = Date().addingTimeInterval(120)
                while c.delivered + c.dropped < total && Date() < deadline {
                    if c.drain(max: 512, { checker.check($0) }) == 0 { usleep(50) }
                }
                results.append(checker)
            }
        }
        #expect(ring.totalPublished == total)
        let checkers = results.all
        #expect(checkers.count == 3)
        for checker in checkers {
            #expect(checker.failures.isEmpty)
            #expect(checker.delivered == total)
            #expect(checker.next == Array(repeating: perLane, count: lanes))
        }
        for c in consumers { #expect(c.delivered == total && c.dropped == 0 && c.lag == 0) }
    }

    /// Producers lap a small ring constantly while consumers read: torn copies must be detected and
    /// discarded, and for every consumer delivered + dropped == published. A consumer that only reads
    /// after the producers stop gets exactly the last `capacity` events of each lane.
    @Test func lappedConsumersAccountForEveryEvent() {
        let lanes = 2, perLane: UInt64 = 200_000, capacity = 16
        let ring = EventRing(capacity: capacity, lanes: lanes)
        let readers = (0..<2).map { ring.makeConsumer(name: "r\($0)", batchCapacity: 8) }
        let stalled = ring.makeConsumer(name: "stalled")
        let done = Atomic<Int>(0)
        let results = Results<StreamChecker>()
        let total = UInt64(lanes) * perLane
        onThreads(lanes + readers.count) { i in
            if i < lanes {
                let p = ring.producer(lane: i)
                for s in 0..<perLane { p.publish(makeEvent(lane: i, sequence: s)) }
                done.add(1, ordering: .releasing)
            } else {
                let c = readers[i - lanes]
                var checker = StreamChecker(lanes: lanes, gapless: false)
                while true {
                    let finished = done.load(ordering: .acquiring) == lanes
                    let n = c.drain(max: 8) { checker.check($0) }
                    if finished && n == 0 { break }
                }
                results.append(checker)
            }
        }
        for checker in results.all { #expect(checker.failures.isEmpty) }
        for c in readers {
            #expect(c.delivered + c.dropped == total)
            #expect(c.lag == 0)
        }
        var checker = StreamChecker(lanes: lanes, gapless: true, start: perLane - UInt64(capacity))
        while stalled.drain(max: 5, { checker.check($0) }) > 0 {}
        #expect(checker.failures.isEmpty)
        #expect(stalled.delivered == UInt64(lanes * capacity))
        #expect(stalled.dropped == total - UInt64(lanes * capacity))
    }

    @Test func nextBatchWaitsWithoutSpinningAndCancels() async throws {
        let ring = EventRing(capacity: 16, lanes: 1)
        let c = ring.makeConsumer(name: "async")
        let producer = Task {
            try await Task.sleep(for: .milliseconds(30))
            ring.producer(lane: 0).publish(makeEvent(lane: 0, sequence: 0))
        }
        let n = try await c.nextBatch { batch in #expect(batch.count == 1 && isIntact(batch[0])) }
        #expect(n == 1)
        try await producer.value

        let waiter = Task { try await c.nextBatch { _ in } }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }
}
