import Synchronization

/// A bounded, lock-free, broadcast ring of ``RequestEvent``s: many producers (one lane per event
/// loop), many consumers (exporters), each consumer sees every event, in publication order per
/// producer.
///
/// ## Design
///
/// The ring is split into `lanes` single-producer rings of `capacity` slots each (a power of two).
/// Each event loop owns one lane through an ``EventProducer``. Giving every producer its own lane
/// (rather than one shared sequence claimed with a fetch-add, as in the Disruptor) means:
/// - publishing is wait-free and uses no read-modify-write at all, and producers on different cores
///   never contend for a cache line;
/// - a slot is never written by two producers at once. With one shared sequence and no producer
///   ever waiting, a producer preempted between claiming sequence `s` and publishing it can be lapped
///   by another producer writing `s + capacity` into the same slot; the two writes interleave and no
///   stamp protocol can then tell the torn result from a good one. One writer per lane removes that
///   case.
///
/// Consumers are never waited for. Each ``EventConsumer`` has its own cursor per lane; a consumer
/// that falls more than `capacity` behind a lane loses its own oldest events, counted in
/// ``EventConsumer/dropped``. Producers and other consumers are unaffected.
///
/// ## Memory ordering (a seqlock per slot)
///
/// Slot stamps: `writing(s) = 2s + 1`, `published(s) = 2s + 2`, strictly increasing per slot.
/// Writer of sequence `s` (see ``EventProducer/publish(_:)``): stamp := writing(s) (relaxed);
/// payload words (releasing); stamp := published(s) (releasing); head := s + 1 (releasing).
///
/// Reader at cursor `c` of a lane:
/// 1. `head` (acquiring). If `head − c > capacity`, events `c ..< head − capacity` were overwritten:
///    they are counted as dropped and the cursor jumps.
/// 2. For each `c < head`: stamp `s1` (acquiring). Since `head > c` was acquired and the head store
///    follows the `published(c)` stamp store, `s1 ≥ published(c)`. If `s1 ≠ published(c)` the
///    slot was already reused (lapped): drop `c`.
/// 3. Copy the payload words (acquiring), then re-read the stamp `s2` (relaxed; the acquiring
///    payload loads keep it from moving before them).
/// 4. If `s2 == published(c)` the copy is exactly event `c`: acquiring `s1 = published(c)` made every
///    payload store of `c` visible, so no word can be older; and if any word came from a later
///    writer `c' = c + k·capacity`, that word's releasing store follows the writer's
///    `stamp := writing(c')` store, so the acquiring load that read it makes that stamp store
///    visible to the `s2` load, which could then not return `published(c)` (stamps only increase).
///    Otherwise the copy is torn: it is discarded and counted as dropped.
///
/// All shared words are atomics, so racing reads are not data races and the design is clean under
/// ThreadSanitizer; on x86-64 every one of these loads and stores is a plain `mov`.
///
/// Total ordering across lanes is not kept (each lane is in order); consumers take events from all
/// lanes round-robin.
public final class EventRing: Sendable {
    let storage: EventRingStorage
    let details: DetailArena?
    private let registry = Mutex<[EventConsumerCounters]>([])

    /// Slots per lane (a power of two).
    public var capacity: Int { storage.capacity }
    /// Number of producer lanes.
    public var lanes: Int { storage.lanes }

    /// A ring with `lanes` producer lanes of `capacity` slots each (a power of two), and a detail
    /// arena of `detailCapacity` bytes per lane (a power of two ≥ 4096, or 0 for none). Memory:
    /// `lanes × (capacity × 128 + detailCapacity)` bytes, allocated up front.
    public init(capacity: Int = 16_384, lanes: Int, detailCapacity: Int = 0) {
        storage = EventRingStorage(capacity: capacity, lanes: lanes)
        details = detailCapacity > 0 ? DetailArena(capacity: detailCapacity, lanes: lanes) : nil
    }

    /// Copies the details of `event` into `out`. False when the event has none, or when they were
    /// overwritten (the consumer is more than the arena's capacity behind the producer).
    public func detail(of event: RequestEvent, into out: inout [UInt8]) -> Bool {
        guard event.detail != 0, let details else {
            out.removeAll(keepingCapacity: true)
            return false
        }
        return details.read(lane: Int(event.producer), position: event.detail &- 1, into: &out)
    }

    /// Bytes per lane of the detail arena (0 when there is none).
    public var detailCapacity: Int { details?.capacity ?? 0 }

    /// The producer for `lane` (`0 ..< lanes`). Use each lane from one thread at a time.
    public func producer(lane: Int) -> EventProducer {
        precondition(lane >= 0 && lane < storage.lanes, "lane \(lane) out of 0..<\(storage.lanes)")
        return EventProducer(storage: storage, details: details, lane: lane)
    }

    /// A new consumer named `name` (e.g. the exporter's name, for `argus_events_dropped_total`).
    /// It starts at the current end of every lane: it sees events published from now on.
    public func makeConsumer(name: String, batchCapacity: Int = 1024) -> EventConsumer {
        let consumer = EventConsumer(ring: self, name: name, start: publishedPosition(), batchCapacity: batchCapacity)
        registry.withLock { $0.append(consumer.counters) }
        return consumer
    }

    /// Events published so far, over all lanes.
    public var totalPublished: UInt64 {
        var sum: UInt64 = 0
        for lane in 0..<storage.lanes { sum &+= storage.head(lane).pointee.load(ordering: .acquiring) }
        return sum
    }

    /// A snapshot of every lane's published count. For shutdown: every event published before this
    /// call is consumed once ``EventConsumer/hasConsumed(through:)`` returns true for it (see also
    /// ``EventConsumer/drain(through:max:_:)``).
    public func publishedPosition() -> EventRing.Position {
        Position(heads: (0..<storage.lanes).map { storage.head($0).pointee.load(ordering: .acquiring) })
    }

    /// Statistics of every consumer made by this ring, for a metrics exporter
    /// (`argus_events_dropped_total{exporter="name"}`).
    public func consumerStatistics() -> [EventConsumer.Statistics] {
        let published = totalPublished
        return registry.withLock { $0.map { $0.statistics(totalPublished: published) } }
    }

    /// Per-lane published counts at one moment.
    public struct Position: Sendable, Hashable {
        /// Published count of each lane.
        public let heads: [UInt64]
        /// Sum over lanes.
        public var total: UInt64 { heads.reduce(0, &+) }
    }
}
