import Synchronization

/// The memory behind an ``EventRing``: per producer lane, a head counter and `capacity` slots.
///
/// Layout: each slot is 16 words (128 bytes, two cache lines, 64-byte aligned): word 0 is the
/// slot's sequence stamp, words 1...15 hold the ``RequestEvent`` (120 bytes). Each lane's head counter sits alone on its own cache line so producers on different
/// event loops never share a line.
///
/// Every word is an `Atomic<UInt64>` and is only ever accessed atomically: the payload words are
/// written and read with release/acquire atomic operations (plain `mov`s on x86-64 and `stlr`/
/// `ldar` on arm64), so a reader racing a writer is not a data race in the language's memory model
/// and ThreadSanitizer understands every access. The seqlock protocol that makes those racing
/// reads safe is described on ``EventRing``.
///
/// `@unchecked Sendable` justification: the class holds raw pointers, which are not `Sendable`,
/// but (1) the pointers are immutable `let`s set in `init` and freed only in `deinit`, when no
/// other reference exists; (2) the memory they point to is initialised once in `init` and from then
/// on accessed exclusively through `Atomic<UInt64>` operations, which are safe to perform from any
/// thread. No non-atomic access to the shared memory exists anywhere, so sharing the class across
/// threads cannot introduce a data race.
final class EventRingStorage: @unchecked Sendable {
    /// Words per slot: 1 stamp + 15 payload.
    static let slotWords = 16
    /// Payload words per event.
    static let eventWords = MemoryLayout<RequestEvent>.size / 8
    /// Words between two lanes' head counters (one 64-byte cache line).
    static let headStride = 8

    let capacity: Int
    let mask: UInt64
    let lanes: Int
    private let slots: UnsafeMutablePointer<Atomic<UInt64>>
    private let heads: UnsafeMutablePointer<Atomic<UInt64>>
    private let slotWordCount: Int
    private let headWordCount: Int

    init(capacity: Int, lanes: Int) {
        precondition(MemoryLayout<RequestEvent>.size % 8 == 0 && Self.eventWords + 1 <= Self.slotWords,
                     "RequestEvent must be a whole number of words and fit a slot")
        precondition(MemoryLayout<RequestEvent>.alignment <= 8)
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "ring capacity must be a power of two")
        precondition(lanes > 0 && lanes <= 256, "between 1 and 256 producer lanes")
        self.capacity = capacity
        self.mask = UInt64(capacity - 1)
        self.lanes = lanes
        slotWordCount = capacity * lanes * Self.slotWords
        headWordCount = lanes * Self.headStride
        slots = UnsafeMutableRawPointer.allocate(byteCount: slotWordCount * 8, alignment: 64)
            .bindMemory(to: Atomic<UInt64>.self, capacity: slotWordCount)
        heads = UnsafeMutableRawPointer.allocate(byteCount: headWordCount * 8, alignment: 64)
            .bindMemory(to: Atomic<UInt64>.self, capacity: headWordCount)
        for i in 0..<slotWordCount { (slots + i).initialize(to: Atomic(0)) }
        for i in 0..<headWordCount { (heads + i).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: slotWordCount)
        heads.deinitialize(count: headWordCount)
        UnsafeMutableRawPointer(slots).deallocate()
        UnsafeMutableRawPointer(heads).deallocate()
    }

    /// The head counter of `lane`: the number of events the lane has published.
    @inline(__always)
    func head(_ lane: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        heads + lane &* Self.headStride
    }

    /// Word 0 (the stamp) of the slot holding `sequence` in `lane`; the payload follows it.
    @inline(__always)
    func slot(_ lane: Int, _ sequence: UInt64) -> UnsafeMutablePointer<Atomic<UInt64>> {
        slots + (lane &* capacity &+ Int(truncatingIfNeeded: sequence & mask)) &* Self.slotWords
    }

    /// The stamp meaning "the writer of `sequence` is writing this slot".
    @inline(__always)
    static func writingStamp(_ sequence: UInt64) -> UInt64 { sequence &* 2 &+ 1 }

    /// The stamp meaning "this slot holds the complete event of `sequence`".
    @inline(__always)
    static func publishedStamp(_ sequence: UInt64) -> UInt64 { sequence &* 2 &+ 2 }
}
