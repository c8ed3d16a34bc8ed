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

    /// Consumer-side state, only touched under `state`'s lock.
    struct State {
        /// Next sequence to read, per lane.
        var cursors: [UInt64]
        /// Where a drain copies events to; `batchCapacity` events, allocated once.
        let batch: UnsafeMutablePointer<RequestEvent>
        let batchCapacity: Int
        /// The lane a drain starts with (rotates, so no lane starves the others).
        var nextLane = 0
    }

    init(ring: EventRing, name: String, start: EventRing.Position, batchCapacity: Int) {
        self.ring = ring
        counters = EventConsumerCounters(name: name, start: start.total)
        let capacity = max(1, batchCapacity)
        let batch = UnsafeMutablePointer<RequestEvent>.allocate(capacity: capacity)
        batch.initialize(repeating: RequestEvent(), count: capacity)
        state = Mutex(State(cursors: start.heads, batch: batch, batchCapacity: capacity))
    }

    deinit {
        state.withLock { $0.batch.deallocate() }  // RequestEvent is plain data: nothing to deinitialise
    }

    /// Events this consumer has handed out.
    public var delivered: UInt64 { counters.delivered.load(ordering: .relaxed) }
    /// Events this consumer lost because it fell behind (overwritten before it read them).
    public var dropped: UInt64 { counters.dropped.load(ordering: .relaxed) }
    /// Events published but not yet consumed (delivered or dropped) by this consumer. It can
    /// exceed the ring's capacity; everything beyond `capacity` per lane will be dropped.
    public var lag: UInt64 { counters.statistics(totalPublished: ring.totalPublished).lag }

    /// Copies up to `max` published events (round-robin over lanes, in order within each lane) and
    /// calls `body` once with them, unless there were none. Returns the number delivered. `max` is
    /// capped at the consumer's `batchCapacity` (see ``EventRing/makeConsumer(name:batchCapacity:)``).
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
            let max = Swift.min(max, state.batchCapacity)
            let batch = state.batch
            var count = 0
            var dropped: UInt64 = 0
            let firstLane = state.nextLane
            state.nextLane = firstLane + 1 == lanes ? 0 : firstLane + 1
            for step in 0..<lanes where count < max {
                let lane = (firstLane + step) % lanes
                var cursor = state.cursors[lane]
                let head = storage.head(lane)
                var available = head.pointee.load(ordering: .acquiring)
                if let limits { available = Swift.min(available, limits[lane]) }
                while cursor < available && count < max {
                    if available &- cursor > capacity {
                        // Overwritten before we read them: our own loss, counted.
                        dropped &+= available &- capacity &- cursor
                        cursor = available &- capacity
                    }
                    let expected = EventRingStorage.publishedStamp(cursor)
                    let slot = storage.slot(lane, cursor)
                    if slot.pointee.load(ordering: .acquiring) == expected {
                        // Copy straight into the batch; a torn copy is simply not counted (and
                        // overwritten by the next one). Any bit pattern is a valid RequestEvent.
                        let raw = UnsafeMutableRawPointer(batch + count)
                        for k in 0..<EventRingStorage.eventWords {
                            raw.storeBytes(of: slot[k &+ 1].load(ordering: .acquiring),
                                           toByteOffset: k &* 8, as: UInt64.self)
                        }
                        if slot.pointee.load(ordering: .relaxed) == expected {
                            count &+= 1
                            cursor &+= 1
                            continue
                        }
                        dropped &+= 1  // torn: the producer lapped us during the copy
                    } else {
                        dropped &+= 1  // lapped before we got here
                    }
                    cursor &+= 1
                    // Being lapped: re-read the head so the jump above skips ahead at once. (Only
                    // here: the head's cache line is written by every publish, so reading it per
                    // event would slow a consumer down exactly when it is behind.)
                    available = head.pointee.load(ordering: .acquiring)
                    if let limits { available = Swift.min(available, limits[lane]) }
                }
                state.cursors[lane] = cursor
            }
            if count > 0 { body(UnsafeBufferPointer(start: batch, count: count)) }
            counters.record(delivered: UInt64(count), dropped: dropped)
            return count
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
