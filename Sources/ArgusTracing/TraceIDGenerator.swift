/// Trace and span ids for one event loop: xoshiro256** seeded from the system's generator, so an
/// id costs a few instructions and no syscall or lock. Ids are never zero (zero means "none" in
/// every propagation format).
public struct TraceIDGenerator: Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init() {
        var system = SystemRandomNumberGenerator()
        self.init(seed: (system.next(), system.next(), system.next(), system.next()))
    }

    /// A generator with a fixed state (tests).
    public init(seed: (UInt64, UInt64, UInt64, UInt64)) {
        (s0, s1, s2, s3) = seed
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { x << k | x >> (64 - k) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// A span id (never 0).
    public mutating func spanID() -> UInt64 {
        var id = next()
        while id == 0 { id = next() }
        return id
    }

    /// A new trace id (never all zero).
    public mutating func traceID() -> (high: UInt64, low: UInt64) {
        let high = next()
        var low = next()
        while high == 0 && low == 0 { low = next() }
        return (high, low)
    }
}

/// Kong's probability sampler (`kong/pdk/tracing.lua`): a trace is sampled when the first eight
/// bytes of its 16-byte id, read as a native (little-endian) integer, fall below `rate × 2^64`; so
/// every node sampling the same trace id at the same rate decides alike, and alike with Kong.
public struct TraceSampler: Sendable, Equatable {
    /// Between 0 and 1.
    public let rate: Double
    private let bound: UInt64

    public init(rate: Double) {
        self.rate = min(max(rate, 0), 1)
        bound = self.rate >= 1 ? .max : UInt64(self.rate * 18_446_744_073_709_551_616.0)
    }

    /// Whether a trace with this id is sampled.
    public func sample(traceHigh: UInt64, traceLow: UInt64) -> Bool {
        if rate >= 1 { return true }
        if rate <= 0 { return false }
        // the id's first eight bytes are `traceHigh` in network order; Kong reads them little-endian
        return traceHigh.byteSwapped < bound
    }
}
