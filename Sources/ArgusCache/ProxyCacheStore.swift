import NIOConcurrencyHelpers

/// The proxy-cache's memory strategy: one store shared by every event loop and every plugin
/// instance (keys include the route and consumer), bounded by a memory budget with
/// least-recently-used eviction, in 16 shards with a lock each (a lookup holds one for a
/// dictionary probe and a list splice).
///
/// It also coalesces misses: the first request for a key that is not stored becomes the key's
/// fetcher; the others for that key wait until the fetcher has stored the response (they are then
/// hits) or given up (they then go upstream themselves). So one upstream request per key per TTL
/// however many clients ask at once.
public final class ProxyCacheStore: Sendable {
    public struct Statistics: Sendable {
        public var entries = 0
        public var bytes = 0
        public var evictions = 0
        public var waiters = 0
    }

    public typealias Waiter = @Sendable () -> Void

    /// An LRU list node. `@unchecked Sendable`: its links and entry are read and written only
    /// while its shard's lock is held.
    private final class Node: @unchecked Sendable {
        let entry: CachedResponse
        var previous: Node?
        var next: Node?
        init(_ entry: CachedResponse) { self.entry = entry }
    }

    private struct Shard {
        var nodes: [String: Node] = [:]
        /// Most recently used first.
        var head: Node?
        var tail: Node?
        var bytes = 0
        var evictions = 0
        /// Keys being fetched, and who waits for each.
        var fetching: [String: [Waiter]] = [:]

        mutating func unlink(_ node: Node) {
            if let previous = node.previous { previous.next = node.next } else { head = node.next }
            if let next = node.next { next.previous = node.previous } else { tail = node.previous }
            node.previous = nil
            node.next = nil
        }

        mutating func pushFront(_ node: Node) {
            node.next = head
            head?.previous = node
            head = node
            if tail == nil { tail = node }
        }

        mutating func remove(_ key: String) -> Bool {
            guard let node = nodes.removeValue(forKey: key) else { return false }
            unlink(node)
            bytes -= node.entry.size
            return true
        }
    }

    private let shards: [NIOLockedValueBox<Shard>]
    private let shardBudget: Int
    public let budget: Int

    /// The largest response the store keeps (a shard's share of the budget).
    public var maxEntryBytes: Int { shardBudget }

    /// `budget`: bytes of heads and bodies kept at most (Kong's `kong_db_cache` dictionary size).
    public init(budget: Int) {
        self.budget = budget
        shards = (0..<16).map { _ in NIOLockedValueBox(Shard()) }
        shardBudget = max(1, budget / 16)
    }

    private func shard(_ key: String) -> NIOLockedValueBox<Shard> {
        var hasher = Hasher()
        hasher.combine(key)
        return shards[Int(UInt(bitPattern: hasher.finalize()) % 16)]
    }

    /// The stored response for `key`, if the store still keeps it at `now` (it may be stale:
    /// the caller decides with the plugin's TTL and the client's Cache-Control).
    public func lookup(_ key: String, now: Double) -> CachedResponse? {
        shard(key).withLockedValue { shard in
            guard let node = shard.nodes[key] else { return nil }
            if node.entry.expiresAt <= now {
                _ = shard.remove(key)
                return nil
            }
            shard.unlink(node)
            shard.pushFront(node)
            return node.entry
        }
    }

    /// Stores `entry`, evicting the least recently used ones while over budget. An entry larger
    /// than a shard's share of the budget is not stored (returns false).
    @discardableResult
    public func insert(_ entry: CachedResponse) -> Bool {
        guard entry.size <= shardBudget else { return false }
        return shard(entry.key).withLockedValue { shard in
            _ = shard.remove(entry.key)
            let node = Node(entry)
            shard.nodes[entry.key] = node
            shard.pushFront(node)
            shard.bytes += entry.size
            while shard.bytes > shardBudget, let last = shard.tail, last !== node {
                _ = shard.remove(last.entry.key)
                shard.evictions += 1
            }
            return true
        }
    }

    /// Drops one entry (`DELETE /proxy-cache/{key}`); false when there was none.
    @discardableResult
    public func purge(_ key: String) -> Bool {
        shard(key).withLockedValue { $0.remove(key) }
    }

    /// Drops every entry (`DELETE /proxy-cache`).
    public func purgeAll() {
        for shard in shards {
            shard.withLockedValue { shard in
                shard.nodes.removeAll()
                shard.head = nil
                shard.tail = nil
                shard.bytes = 0
            }
        }
    }

    /// The entry for `key` without touching its recency (`GET /proxy-cache/{key}`).
    public func peek(_ key: String) -> CachedResponse? {
        shard(key).withLockedValue { $0.nodes[key]?.entry }
    }

    // MARK: - Coalescing misses

    /// Called on a miss. Returns true when the caller is the key's fetcher (it must call
    /// `endFetch` however the fetch ends); false when another request is fetching it, in which
    /// case `waiter` runs (on an arbitrary thread) once that fetch ends.
    public func beginFetch(_ key: String, waiter: @escaping Waiter) -> Bool {
        shard(key).withLockedValue { shard in
            if shard.fetching[key] != nil {
                shard.fetching[key]!.append(waiter)
                return false
            }
            shard.fetching[key] = []
            return true
        }
    }

    /// The fetch of `key` is over (stored, not cacheable, or failed): its waiters look again.
    public func endFetch(_ key: String) {
        let waiters = shard(key).withLockedValue { $0.fetching.removeValue(forKey: key) ?? [] }
        for waiter in waiters { waiter() }
    }

    public var statistics: Statistics {
        var total = Statistics()
        for shard in shards {
            shard.withLockedValue { shard in
                total.entries += shard.nodes.count
                total.bytes += shard.bytes
                total.evictions += shard.evictions
                total.waiters += shard.fetching.values.reduce(0) { $0 + $1.count }
            }
        }
        return total
    }
}

/// A fetch in progress: ends it (waking the waiters) when released, however the request ends.
public final class CacheFetch {
    public let key: String
    public let store: ProxyCacheStore
    private var ended = false

    public init(key: String, store: ProxyCacheStore) {
        self.key = key
        self.store = store
    }

    public func end() {
        guard !ended else { return }
        ended = true
        store.endFetch(key)
    }

    deinit { end() }
}
