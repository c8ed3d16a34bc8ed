import ArgusEvents
import Foundation
import Synchronization

/// The event ring: publish cost per event and end-to-end throughput with consumer threads.
enum RingBench {
    static func run() {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("event ring (release build; \(cores) cores; RequestEvent = \(MemoryLayout<RequestEvent>.size) bytes)")
        publishCost()
        print("")
        drainCost()
        print("")
        print("| producers → consumers | offered M events/s | events published | delivered per consumer (min) | dropped per consumer (max) | M events/s delivered per consumer | range over 3 runs | note |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for (producers, consumers, offered) in [(1, 1, nil), (1, 1, 20e6), (1, 1, 30e6), (2, 3, nil), (2, 3, 10e6)] as [(Int, Int, Double?)] {
            // Three runs; the median one (by delivered rate) is printed, with the range.
            let runs = (0..<3).map { _ in
                throughput(producers: producers, consumers: consumers, perProducer: 50_000_000 / UInt64(producers), offered: offered)
            }.sorted { $0.rate < $1.rate }
            let r = runs[1]
            let threads = producers + consumers
            let note = threads > cores ? "\(threads) busy threads on \(cores) cores: oversubscribed" : ""
            let offeredText = offered.map { String(format: "%.0f", $0 / 1e6) } ?? "max"
            print("| \(producers) → \(consumers) | \(offeredText) | \(r.published) | \(r.delivered) | \(r.dropped) | \(String(format: "%.1f", r.rate)) | \(String(format: "%.1f–%.1f", runs[0].rate, runs[2].rate)) | \(note) |")
        }
        print("(capacity 65,536 events per lane; \"offered\" = total publish rate the producers are paced to, \"max\" = as fast as they can)")
    }

    struct Run {
        var published: UInt64
        var delivered: UInt64
        var dropped: UInt64
        /// Million events per second delivered to the slowest consumer.
        var rate: Double
    }

    /// Consumer cost with no producer running: the ring is filled, then drained in batches of 1024.
    static func drainCost() {
        let ring = EventRing(capacity: 65_536, lanes: 1)
        let producer = ring.producer(lane: 0)
        let consumer = ring.makeConsumer(name: "c", batchCapacity: 1024)
        let clock = ContinuousClock()
        var samples: [Double] = []
        var s: UInt64 = 0, x: UInt64 = 0
        for _ in 0..<20 {
            for _ in 0..<65_536 { producer.publish(event(s)); s &+= 1 }
            let d = clock.measure {
                while consumer.drain(max: 1024, { batch in for e in batch { x &+= e.requestIDLow } }) > 0 {}
            }
            samples.append((Double(d.components.attoseconds) / 1e9 + Double(d.components.seconds) * 1e9) / 65_536)
        }
        samples.sort()
        print("drain (no producer running): median \(String(format: "%.1f", samples[samples.count / 2])) ns/event, batches of 1024\(x == 42 ? " " : "")")
    }

    static func event(_ s: UInt64) -> RequestEvent {
        var e = RequestEvent()
        e.receivedAt = s
        e.completedAt = s &+ 1_000
        e.requestIDLow = s
        e.status = 200
        e.method = .get
        e.route = 3
        return e
    }

    /// Median over 20,000 samples of the mean cost of 64 consecutive publishes (one producer, one
    /// registered consumer that is not draining, so the ring wraps constantly).
    static func publishCost() {
        let ring = EventRing(capacity: 65_536, lanes: 1)
        let producer = ring.producer(lane: 0)
        _ = ring.makeConsumer(name: "idle")
        let clock = ContinuousClock()
        var samples: [Double] = []
        samples.reserveCapacity(20_000)
        var s: UInt64 = 0
        for _ in 0..<1_000_000 { producer.publish(event(s)); s &+= 1 }  // warm up, touch every slot
        for _ in 0..<20_000 {
            let start = clock.now
            for _ in 0..<64 { producer.publish(event(s)); s &+= 1 }
            let d = start.duration(to: clock.now)
            samples.append((Double(d.components.attoseconds) / 1e9 + Double(d.components.seconds) * 1e9) / 64)
        }
        samples.sort()
        let median = samples[samples.count / 2], p99 = samples[samples.count * 99 / 100]
        print("publish: median \(String(format: "%.1f", median)) ns/event, p99 \(String(format: "%.1f", p99)) ns/event (batches of 64, 20,000 samples)")
    }

    /// `producers` threads publish `perProducer` events each (paced so that together they offer
    /// `offered` events/s, or flat out when nil) while `consumers` threads drain.
    static func throughput(producers: Int, consumers: Int, perProducer: UInt64, offered: Double?) -> Run {
        let capacity = 65_536
        let ring = EventRing(capacity: capacity, lanes: producers)
        let cs = (0..<consumers).map { ring.makeConsumer(name: "c\($0)", batchCapacity: 1024) }
        let done = Atomic<Int>(0)
        let sink = Atomic<UInt64>(0)
        let total = UInt64(producers) * perProducer
        let group = DispatchGroup()
        let start = ContinuousClock.now
        for p in 0..<producers {
            group.enter()
            Thread.detachNewThread {
                let producer = ring.producer(lane: p)
                if let offered {
                    // Publish in chunks of 256, waiting until the clock says the next chunk is due.
                    let nanosPerEvent = 1e9 * Double(producers) / offered
                    let begin = ContinuousClock.now
                    var s: UInt64 = 0
                    while s < perProducer {
                        let due = begin + .nanoseconds(Int64(Double(s) * nanosPerEvent))
                        while ContinuousClock.now < due {}
                        for _ in 0..<Swift.min(256, perProducer - s) { producer.publish(event(s)); s &+= 1 }
                    }
                } else {
                    for s in 0..<perProducer { producer.publish(event(s)) }
                }
                done.add(1, ordering: .releasing)
                group.leave()
            }
        }
        for c in cs {
            group.enter()
            Thread.detachNewThread {
                var x: UInt64 = 0
                while true {
                    let finished = done.load(ordering: .acquiring) == producers
                    let n = c.drain(max: 1024) { batch in for e in batch { x &+= e.requestIDLow } }
                    if n == 0 { if finished { break } else { sched_yield() } }
                }
                sink.add(x, ordering: .relaxed)
                group.leave()
            }
        }
        group.wait()
        let d = start.duration(to: .now)
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        let delivered = cs.map(\.delivered).min() ?? 0
        let dropped = cs.map(\.dropped).max() ?? 0
        let rate = Double(delivered) / seconds / 1e6
        if sink.load(ordering: .relaxed) == 42 { print("") }  // keep the consumers' work observable
        return Run(published: total, delivered: delivered, dropped: dropped, rate: rate)
    }
}
