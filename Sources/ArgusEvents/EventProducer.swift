import Synchronization

/// The publishing end of one lane of an ``EventRing``: one per event loop.
///
/// A lane has exactly one writer: use a producer from one thread at a time (an event loop is one
/// thread, so "one producer per event loop" satisfies this). Publishing is wait-free: a handful of
/// atomic stores, no read-modify-write, no lock, no allocation, and it never looks at consumers.
///
/// A producer is an object of its own, touched by its lane's thread only: publishing reads the
/// lane's head and slots through pointers kept here and never retains the shared storage, whose
/// reference count (written by every retain, on any thread) would otherwise move a cache line
/// between cores on every event.
///
/// `@unchecked Sendable`: it holds raw pointers into the ring's storage (kept alive by the ring),
/// and is used by one thread at a time, its lane's event loop; the slots it writes are published
/// to consumers through the lane's atomic head (see `EventRingStorage`).
public final class EventProducer: @unchecked Sendable {
    let storage: EventRingStorage
    let details: DetailArena?
    /// The lane this producer writes.
    public let lane: Int
    private let head: UnsafeMutablePointer<Atomic<UInt64>>
    private let laneSlots: UnsafeMutablePointer<Atomic<UInt64>>
    private let mask: UInt64

    init(storage: EventRingStorage, details: DetailArena?, lane: Int) {
        self.storage = storage
        self.details = details
        self.lane = lane
        head = storage.head(lane)
        laneSlots = storage.slot(lane, 0)
        mask = storage.mask
    }

    /// Publishes `event` with `detail` bytes (truncated to the arena's largest record) written to
    /// the lane's detail arena first; `event.detail` is set to where they are. Without an arena the
    /// event is published without details.
    @inline(__always)
    public func publish(_ event: RequestEvent, detail: UnsafeRawBufferPointer) {
        var event = event
        if let details {
            event.detail = details.write(detail, lane: lane) &+ 1
        }
        publish(event)
    }

    /// Publishes `event` (its ``RequestEvent/producer`` field is set to this lane).
    ///
    /// Ordering (see ``EventRing`` for the reader side):
    /// 1. stamp := writing(s), relaxed;
    /// 2. each payload word, releasing: a reader that sees any of them also sees step 1, so its
    ///    re-check of the stamp cannot still find published(s − capacity);
    /// 3. stamp := published(s), releasing: a reader that acquires it sees the whole payload;
    /// 4. head := s + 1, releasing: a reader that acquires the head sees the stamp of step 3.
    @inline(__always)
    public func publish(_ event: RequestEvent) {
        var event = event
        event.producer = UInt8(truncatingIfNeeded: lane)
        // Only this producer writes the head, so a relaxed load reads its own last store.
        let sequence = head.pointee.load(ordering: .relaxed)
        let slot = laneSlots + Int(truncatingIfNeeded: sequence & mask) &* EventRingStorage.slotWords
        slot.pointee.store(EventRingStorage.writingStamp(sequence), ordering: .relaxed)
        withUnsafeBytes(of: &event) { raw in
            for k in 0..<EventRingStorage.eventWords {
                slot[k &+ 1].store(raw.load(fromByteOffset: k &* 8, as: UInt64.self), ordering: .releasing)
            }
        }
        slot.pointee.store(EventRingStorage.publishedStamp(sequence), ordering: .releasing)
        head.pointee.store(sequence &+ 1, ordering: .releasing)
    }

    /// How many events this lane has published.
    public var published: UInt64 { head.pointee.load(ordering: .acquiring) }
}
