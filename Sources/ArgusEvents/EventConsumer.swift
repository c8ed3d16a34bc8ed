import Synchronization

/// One exporter's view of an ``EventRing``: its own cursor on every lane, its own counters.
///
/// ``drain(max:_:)`` copies out up to `max` events and hands them over as one buffer. Call it from
/// one task or thread at a time (a second concurrent call waits for the first: the cursors are
/// behind a `Mutex`, which is only ever taken on the consumer side, never by producers). Do not call
/// back into the same consumer from the closure.
///
/// When the consumer falls more than `capacity` behind a lane, it loses its own oldest events; each
/// one is counted in ``dropped``. `delivered + dropped` always equals the number of events the lanes
/// published since the consumer was made, up to its cursors.
public final class EventConsumer: Sendable {
    /// The exporter's name.
    public var name: String { counters.name }
    let counters: EventConsumerCounters
    private let ring: EventRing
    private let state: Mutex<State>

    struct State {
        var cursors: [UInt64]
        var batch: [RequestEvent]
        var nextLane = 0
    }

    init(ring: EventRing, name: String, start: EventRing.Position, batchCapacity: Int) {
        self.ring = ring
        counters = EventConsumerCounters(name: name, start: start.total)
        var batch: [RequestEvent] = []
        batch.reserveCapacity(max(1, batchCapacity))
        state = Mutex(State(cursors: start.heads, batch: batch))
    }

    /// Events this consumer has handed out.
    public var delivered: UInt64 { counters.delivered.load(ordering: .relaxed) }
    /// Events this consumer lost because it fell behind (overwritten before it read them).
    public var dropped: UInt64 { counters.dropped.load(ordering: .relaxed) }
    /// Events published but not yet consumed (delivered or dropped) by this consumer. It can
    /// exceed the ring's capacity; everything beyond `capacity` per lane will be dropped.
    public var lag: UInt64 { counters.statistics(totalPublished: ring.totalPublished).lag }

    /// Copies up to `max` published events (round-robin over lanes, in order within each lane) and
    /// calls `body` once with them, unless there were none. Returns the number delivered.
    @discardableResult
    public func drain(max: Int = 1024, _ body: (UnsafeBufferPointer<RequestEvent>) -> Void) -> Int {
        drain(limits: nil, max: max, body)
    }

    /// Like ``drain(max:_:)`` but never reads past `position` (a ``EventRing/publishedPosition()``
    /// snapshot). Repeat until ``hasConsumed(through:)`` is true to flush everything published
    /// before the snapshot, e.g. at shutdown.
    @discardableResult
    public func drain(through position: EventRing.Position, max: Int = 1024,
                      _ body: (UnsafeBufferPointer<RequestEvent>) -> Void) -> Int {
        drain(limits: position.heads, max: max, body)
    }

    /// True when this consumer's cursor has passed every event published before `position` was taken.
    public func hasConsumed(through position: EventRing.Position) -> Bool {
        state.withLock { state in
            zip(state.cursors, position.heads).allSatisfy { $0 >= $1 }
        }
    }

    /// Waits for events and drains them: returns as soon as at least one event was handed to
    /// `body`. When the ring is empty it sleeps, backing off from 50 µs up to `maxIdleSleep`, so an
    /// idle exporter costs almost nothing. Throws `CancellationError` when its task is cancelled.
    @discardableResult
    public func nextBatch(max: Int = 1024, maxIdleSleep: Duration = .milliseconds(10),
                          _ body: (UnsafeBufferPointer<RequestEvent>) -> Void) async throws -> Int {
        var sleep = Duration.microseconds(50)
        while true {
            let n = drain(max: max, body)
            if n > 0 { return n }
            try await Task.sleep(for: sleep)
            sleep = min(sleep * 2, maxIdleSleep)
        }
    }

    /// A snapshot of this consumer's counters.
    public var statistics: Statistics { counters.statistics(totalPublished: ring.totalPublished) }

    /// A consumer's counters at one moment.
    public struct Statistics: Sendable, Hashable {
        /// The consumer's (exporter's) name.
        public var name: String
        /// Events handed out.
        public var delivered: UInt64
        /// Events lost because the consumer fell behind.
        public var dropped: UInt64
        /// Events published but not yet consumed.
        public var lag: UInt64
    }

    private func drain(limits: [UInt64]?, max: Int, _ body: (UnsafeBufferPointer<RequestEvent>) -> Void) -> Int {
        let storage = ring.storage
        let capacity = UInt64(storage.capacity)
        let lanes = storage.lanes
        return state.withLock { state in
            state.batch.removeAll(keepingCapacity: true)
            var dropped: UInt64 = 0
            let firstLane = state.nextLane
            state.nextLane = firstLane + 1 == lanes ? 0 : firstLane + 1
            for step in 0..<lanes where state.batch.count < max {
                let lane = (firstLane + step) % lanes
                var cursor = state.cursors[lane]
                let head = storage.head(lane)
                var available = head.pointee.load(ordering: .acquiring)
                if let limits { available = Swift.min(available, limits[lane]) }
                while cursor < available && state.batch.count < max {
                    if available &- cursor > capacity {
                        // Overwritten before we read them: our own loss, counted.
                        dropped &+= available &- capacity &- cursor
                        cursor = available &- capacity
                    }
                    let expected = EventRingStorage.publishedStamp(cursor)
                    let slot = storage.slot(lane, cursor)
                    if slot.pointee.load(ordering: .acquiring) == expected {
                        var event = RequestEvent()
                        withUnsafeMutableBytes(of: &event) { raw in
                            for k in 0..<EventRingStorage.eventWords {
                                raw.storeBytes(of: slot[k &+ 1].load(ordering: .acquiring),
                                               toByteOffset: k &* 8, as: UInt64.self)
                            }
                        }
                        if slot.pointee.load(ordering: .relaxed) == expected {
                            state.batch.append(event)
                        } else {
                            dropped &+= 1  // torn: the producer lapped us during the copy
                        }
                    } else {
                        dropped &+= 1  // lapped before we got here
                    }
                    cursor &+= 1
                    if cursor < available && state.batch.count < max && dropped > 0 {
                        // Being lapped: re-read the head so the jump above skips ahead at once.
                        available = head.pointee.load(ordering: .acquiring)
                        if let limits { available = Swift.min(available, limits[lane]) }
                    }
                }
                state.cursors[lane] = cursor
            }
            let n = state.batch.count
            if n > 0 { state.batch.withUnsafeBufferPointer { body($0) } }
            counters.record(delivered: UInt64(n), dropped: dropped)
            return n
        }
    }
}

/// A consumer's counters, shared with the ring's registry (so a metrics exporter can list every
/// consumer without keeping the consumers alive). Only the consumer's drain writes them.
final class EventConsumerCounters: Sendable {
    let name: String
    /// Total published (all lanes) when the consumer was made.
    let start: UInt64
    let delivered = Atomic<UInt64>(0)
    let dropped = Atomic<UInt64>(0)

    init(name: String, start: UInt64) {
        self.name = name
        self.start = start
    }

    func record(delivered d: UInt64, dropped x: UInt64) {
        if d > 0 { delivered.wrappingAdd(d, ordering: .relaxed) }
        if x > 0 { dropped.wrappingAdd(x, ordering: .relaxed) }
    }

    func statistics(totalPublished: UInt64) -> EventConsumer.Statistics {
        let d = delivered.load(ordering: .relaxed), x = dropped.load(ordering: .relaxed)
        let consumed = start &+ d &+ x
        return .init(name: name, delivered: d, dropped: x, lag: totalPublished > consumed ? totalPublished - consumed : 0)
    }
}
