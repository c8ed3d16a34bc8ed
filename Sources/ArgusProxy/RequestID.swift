/// A request id: 32 lower-case hex characters, like Kong's `X-Kong-Request-Id`. Made from a random
/// per-event-loop prefix and a counter, so generating one costs no syscall and no lock.
public struct RequestID: Sendable, Hashable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public var description: String {
        var bytes = [UInt8](repeating: 0, count: 32)
        Self.hex(high, into: &bytes, at: 0)
        Self.hex(low, into: &bytes, at: 16)
        return String(decoding: bytes, as: UTF8.self)
    }

    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    static func hex(_ value: UInt64, into bytes: inout [UInt8], at offset: Int) {
        for i in 0..<16 {
            bytes[offset + i] = digits[Int((value >> UInt64(60 - 4 * i)) & 0xF)]
        }
    }
}

/// Makes request ids on one event loop.
struct RequestIDGenerator {
    private let prefix: UInt64
    private var counter: UInt64

    init() {
        var rng = SystemRandomNumberGenerator()
        prefix = rng.next()
        counter = rng.next() >> 16
    }

    mutating func next() -> RequestID {
        counter &+= 1
        // Mix the counter so ids do not look sequential; the mapping is a bijection, so ids stay unique.
        var mixed = counter &* 0x9E37_79B9_7F4A_7C15
        mixed ^= mixed >> 29
        return RequestID(high: prefix, low: mixed)
    }
}
