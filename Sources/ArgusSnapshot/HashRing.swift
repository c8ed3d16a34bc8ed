/// A consistent-hashing continuum (Ketama-style): each target gets points on a 32-bit ring in
/// proportion to its weight (about 160 per average-weight target, at most `slots` in all); a key
/// goes to the first point at or after its hash. Adding a target moves only the keys that fall
/// on its new points (about 1/N of them). Lookup is a binary search: O(log points).
public struct HashRing: Sendable {
    /// Point hashes, ascending, and the target index at each.
    public let points: [UInt32]
    public let owners: [Int]

    public init(targets: [String], weights: [Int], slots: Int) {
        var pairs: [(UInt32, Int)] = []
        let total = weights.reduce(0, +)
        guard total > 0 else {
            points = []
            owners = []
            return
        }
        let budget = max(targets.count, min(max(slots, 1000), 160 * targets.count))
        for (i, target) in targets.enumerated() where weights[i] > 0 {
            let count = max(1, budget * weights[i] / total)
            for n in 0..<count { pairs.append((Self.hash("\(target)-\(n)"), i)) }
        }
        pairs.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        points = pairs.map(\.0)
        owners = pairs.map(\.1)
    }

    /// The point index for `key` (the first point at or after its hash, wrapping around).
    public func index(for key: String) -> Int? {
        guard !points.isEmpty else { return nil }
        let h = Self.hash(key)
        var low = 0, high = points.count
        while low < high {
            let mid = (low + high) / 2
            if points[mid] < h { low = mid + 1 } else { high = mid }
        }
        return low == points.count ? 0 : low
    }

    /// FNV-1a, 32 bits, then a final avalanche (murmur3's fmix32) so nearby keys spread.
    public static func hash(_ key: String) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for byte in key.utf8 {
            h ^= UInt32(byte)
            h = h &* 16_777_619
        }
        h ^= h >> 16
        h = h &* 0x85eb_ca6b
        h ^= h >> 13
        h = h &* 0xc2b2_ae35
        h ^= h >> 16
        return h
    }
}
