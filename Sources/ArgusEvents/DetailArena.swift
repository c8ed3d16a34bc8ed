import Synchronization

/// Variable-size request details (the raw request head, the upstream target, the response head,
/// the tries) for exporters that need more than a ``RequestEvent`` holds: the log sinks. One byte
/// ring per producer lane, written only by that lane's producer, read by any consumer.
///
/// A record is written before the event that refers to it (``RequestEvent/detail`` holds its
/// position + 1), as a length word followed by its bytes, word by word. Records are never waited
/// for: a writer overwrites the oldest bytes; a reader detects that it was lapped and reports the
/// record as lost. Same seqlock reasoning as the event slots (see ``EventRing``):
///
/// - Writer of a record spanning byte positions `[p, e)`: `reserved := e` (relaxed), then every
///   word (releasing), so a reader that sees any word of this record also sees the reservation.
/// - Reader of `[p, e)`: copies the words (acquiring), then loads `reserved`. The record is intact
///   iff `reserved − capacity ≤ p`: otherwise some writer reserved (and may have written) bytes that
///   reuse position `p` or later.
///
/// `@unchecked Sendable`: as ``EventRingStorage``: immutable pointers, memory accessed only
/// through `Atomic<UInt64>` operations.
final class DetailArena: @unchecked Sendable {
    /// Bytes per lane (a power of two, at least 4 KiB).
    let capacity: Int
    let lanes: Int
    private let wordMask: UInt64
    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let reserved: UnsafeMutablePointer<Atomic<UInt64>>
    private let wordCount: Int
    private static let reservedStride = 8

    init(capacity: Int, lanes: Int) {
        precondition(capacity >= 4096 && capacity & (capacity - 1) == 0, "detail arena capacity must be a power of two ≥ 4096")
        self.capacity = capacity
        self.lanes = lanes
        let perLane = capacity / 8
        wordMask = UInt64(perLane - 1)
        wordCount = perLane * lanes
        words = UnsafeMutableRawPointer.allocate(byteCount: wordCount * 8, alignment: 64)
            .bindMemory(to: Atomic<UInt64>.self, capacity: wordCount)
        reserved = UnsafeMutableRawPointer.allocate(byteCount: lanes * Self.reservedStride * 8, alignment: 64)
            .bindMemory(to: Atomic<UInt64>.self, capacity: lanes * Self.reservedStride)
        for i in 0..<wordCount { (words + i).initialize(to: Atomic(0)) }
        for i in 0..<(lanes * Self.reservedStride) { (reserved + i).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: wordCount)
        reserved.deinitialize(count: lanes * Self.reservedStride)
        UnsafeMutableRawPointer(words).deallocate()
        UnsafeMutableRawPointer(reserved).deallocate()
    }

    /// Largest record: an eighth of a lane, so that one record never laps another written just before.
    var maxRecord: Int { capacity / 8 - 8 }

    @inline(__always)
    private func word(_ lane: Int, _ position: UInt64) -> UnsafeMutablePointer<Atomic<UInt64>> {
        words + (lane &* (capacity / 8) &+ Int(truncatingIfNeeded: (position / 8) & wordMask))
    }

    /// Writes `bytes` (truncated to ``maxRecord``) as one record of `lane`; returns its position.
    /// Only the lane's producer may call this.
    func write(_ bytes: UnsafeRawBufferPointer, lane: Int) -> UInt64 {
        let length = min(bytes.count, maxRecord)
        let head = reserved + lane &* Self.reservedStride
        let start = head.pointee.load(ordering: .relaxed)
        let end = start &+ 8 &+ UInt64((length &+ 7) & ~7)
        head.pointee.store(end, ordering: .relaxed)
        word(lane, start).pointee.store(UInt64(length), ordering: .releasing)
        var position = start &+ 8
        var offset = 0
        while offset &+ 8 <= length {
            word(lane, position).pointee.store(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self), ordering: .releasing)
            position &+= 8
            offset &+= 8
        }
        if offset < length {
            var w: UInt64 = 0
            withUnsafeMutableBytes(of: &w) { raw in
                raw.baseAddress!.copyMemory(from: bytes.baseAddress! + offset, byteCount: length &- offset)
            }
            word(lane, position).pointee.store(w, ordering: .releasing)
        }
        return start
    }

    /// Copies the record at `position` of `lane` into `out` (replacing its contents). False if the
    /// record was overwritten before or while it was read (then `out` is empty).
    func read(lane: Int, position: UInt64, into out: inout [UInt8]) -> Bool {
        guard lane >= 0 && lane < lanes else {
            out.removeAll(keepingCapacity: true)
            return false
        }
        let head = reserved + lane &* Self.reservedStride
        // Acquiring: the record's own words (written before the event that named it) are visible.
        let before = head.pointee.load(ordering: .acquiring)
        guard position < before, before &- position <= UInt64(capacity) else {
            out.removeAll(keepingCapacity: true)
            return false
        }
        let length = Int(truncatingIfNeeded: word(lane, position).pointee.load(ordering: .acquiring))
        guard length >= 0 && length <= maxRecord else {
            out.removeAll(keepingCapacity: true)
            return false
        }
        // Resized, not cleared: the bytes are all overwritten below (no zero-filling per read).
        if out.count > length {
            out.removeLast(out.count - length)
        } else if out.count < length {
            out.append(contentsOf: repeatElement(0, count: length - out.count))
        }
        out.withUnsafeMutableBytes { destination in
            var p = position &+ 8
            var offset = 0
            while offset &+ 8 <= length {
                destination.storeBytes(of: word(lane, p).pointee.load(ordering: .acquiring), toByteOffset: offset, as: UInt64.self)
                p &+= 8
                offset &+= 8
            }
            if offset < length {
                var w = word(lane, p).pointee.load(ordering: .acquiring)
                withUnsafeBytes(of: &w) { raw in
                    destination.baseAddress!.advanced(by: offset).copyMemory(from: raw.baseAddress!, byteCount: length &- offset)
                }
            }
        }
        let after = head.pointee.load(ordering: .relaxed)
        if after &- UInt64(capacity) > position && after > UInt64(capacity) {
            out.removeAll(keepingCapacity: true)
            return false
        }
        return true
    }
}
