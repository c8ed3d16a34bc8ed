import NIOConcurrencyHelpers

/// A dictionary shared by every event loop, split into 64 shards by the key's hash, each with its
/// own lock (uncontended in practice: tens of nanoseconds), so that requests for different keys
/// rarely meet. The counter stores of both rate-limit plugins are built on it.
struct ShardedTable<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    static var shardCount: Int { 64 }
    private let shards: [NIOLockedValueBox<[Key: Value]>]

    init() {
        shards = (0..<Self.shardCount).map { _ in NIOLockedValueBox([:]) }
    }

    /// The shard that holds `key`.
    @inline(__always)
    func shard(_ key: Key) -> NIOLockedValueBox<[Key: Value]> {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(Self.shardCount))]
    }

    /// Entries held (all shards).
    var count: Int { shards.reduce(0) { $0 + $1.withLockedValue { $0.count } } }

    /// Removes the entries `isOver` says are over, shard by shard. Returns how many were removed.
    func removeAll(where isOver: (Value) -> Bool) -> Int {
        var removed = 0
        for shard in shards {
            shard.withLockedValue { table in
                let before = table.count
                table = table.filter { !isOver($0.value) }
                removed += before - table.count
            }
        }
        return removed
    }
}
