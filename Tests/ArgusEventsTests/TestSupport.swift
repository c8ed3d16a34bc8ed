import Foundation
import Synchronization
@testable import ArgusEvents

/// Runs `body(i)` for `i` in `0..<count`, each on its own OS thread, and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        Thread.detachNewThread {
            body(i)
            group.leave()
        }
    }
    group.wait()
}

/// An event whose every field is derived from (lane, sequence), so a torn copy is detectable.
func makeEvent(lane: Int, sequence: UInt64) -> RequestEvent {
    var e = RequestEvent()
    e.receivedAt = sequence
    e.upstreamSentAt = sequence &+ 1
    e.upstreamFirstByteAt = sequence &+ 3
    e.completedAt = sequence &+ 7
    e.requestBytes = sequence &* 3
    e.responseBytes = ~sequence
    e.requestIDHigh = sequence &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(lane)
    e.requestIDLow = sequence
    e.clientAddress = ClientAddress(ipv4: UInt32(truncatingIfNeeded: sequence))
    e.service = Int32(truncatingIfNeeded: sequence >> 1)
    e.route = Int32(lane)
    e.consumer = Int32(truncatingIfNeeded: ~sequence)
    e.upstreamTarget = Int16(truncatingIfNeeded: sequence >> 2)
    e.plugin = Int16(truncatingIfNeeded: sequence >> 4)
    e.configVersion = UInt32(truncatingIfNeeded: sequence >> 3)
    e.status = UInt16(truncatingIfNeeded: sequence)
    e.clientPort = UInt16(truncatingIfNeeded: sequence >> 16)
    e.method = RequestMethod(rawValue: UInt8(truncatingIfNeeded: sequence % 10))
    e.tries = UInt8(truncatingIfNeeded: sequence >> 8)
    e.flags = UInt8(truncatingIfNeeded: sequence >> 24)
    return e
}

/// True when `e` is exactly what ``makeEvent(lane:sequence:)`` made for its lane and sequence.
func isIntact(_ e: RequestEvent) -> Bool {
    var expected = makeEvent(lane: Int(e.route), sequence: e.requestIDLow)
    expected.producer = e.producer
    return e == expected && e.producer == UInt8(truncatingIfNeeded: e.route)
}

/// Checks a consumer's stream: per lane strictly increasing sequences (consecutive when `gapless`),
/// every event intact. Thread-confined to one consumer.
struct StreamChecker {
    var next: [UInt64]
    var gapless: Bool
    var delivered: UInt64 = 0
    var failures: [String] = []

    init(lanes: Int, gapless: Bool, start: UInt64 = 0) {
        next = Array(repeating: start, count: lanes)
        self.gapless = gapless
    }

    mutating func check(_ batch: UnsafeBufferPointer<RequestEvent>) {
        for e in batch {
            delivered += 1
            guard isIntact(e) else {
                if failures.count < 5 { failures.append("torn event delivered: \(e)") }
                continue
            }
            let lane = Int(e.producer), seq = e.requestIDLow
            if gapless ? seq != next[lane] : seq < next[lane] {
                if failures.count < 5 { failures.append("lane \(lane): got \(seq), expected \(gapless ? "" : ">= ")\(next[lane])") }
            }
            next[lane] = seq + 1
        }
    }
}

/// A thread-safe box for results reported by test threads.
///
/// Guarded by `NSLock` (a pthread mutex) rather than the standard library's `Mutex`: on Linux the
/// standard library is not built with ThreadSanitizer instrumentation, so TSan cannot see the
/// ordering `Mutex` provides and reports a (false) race between two threads appending.
final class Results<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Value] = []
    func append(_ v: Value) { lock.withLock { values.append(v) } }
    var all: [Value] { lock.withLock { values } }
}
