import ArgusConfig
import ArgusDNS
import ArgusHealth
import ArgusTransport
import Atomics

/// Picks a target of an upstream with its `algorithm`, skipping targets the health checks took out:
/// Kong's weighted round-robin (weights reduced by their GCD and expanded into a wheel walked in
/// order); consistent-hashing (a ``HashRing`` of the targets, keyed by what `hash_on` names);
/// least-connections (the healthy target with the fewest tries in flight per unit of weight);
/// latency (peak-EWMA: the healthy target with the lowest recent response time, weighted by its
/// tries in flight).
/// With no healthy target, or less available weight than the upstream's `threshold`, there is no
/// pick (503 `failure to get a peer from the ring-balancer`).
public final class UpstreamBalancer: Sendable {
    public let upstream: Upstream
    public let health: HealthcheckSettings
    /// The targets with weight > 0, and (when health checks are on) their health.
    public let targets: [PoolKey]
    /// Each entry's configured target name (an address resolved from a name keeps the name).
    public let names: [String]
    public let weights: [Int]
    public let targetHealth: [TargetHealth]?
    /// Indexes into `targets`.
    public let wheel: [Int]
    private let position = ManagedAtomic<Int>(0)
    public let algorithm: Algorithm
    /// consistent-hashing's continuum.
    public let ring: HashRing?
    /// least-connections and latency: tries in flight per target (all event loops).
    public let inFlight: [ManagedAtomic<Int>]
    /// latency: each target's peak-EWMA of its time to first response byte, in microseconds.
    public let latency: [ManagedAtomic<Int>]

    public enum Algorithm: Sendable { case roundRobin, consistentHashing, leastConnections, latency }

    /// One pick: where to connect, and the health to report the try's outcome to (nil: checks off).
    public struct Pick {
        public var target: PoolKey
        /// The target's name as configured (for a name resolved through DNS, `target` holds one of
        /// its addresses): the upstream Host and TLS server name are made from it, as Kong does.
        public var name: String
        public var health: TargetHealth?
        /// The target's index (least-connections: call ``finished(_:)`` when the try ends).
        public var index: Int
    }

    /// One entry of the balancer: a target, or one address of a target whose name resolved to several.
    struct Entry {
        var key: PoolKey
        var weight: Int
        var target: Target
        /// Its point on consistent-hashing's ring.
        var ringKey: String
    }

    /// `resolved`: target names resolved through DNS; a name with addresses is balanced over them
    /// (the target's weight split by their SRV weights, its health shared), a name that failed is
    /// left out (`dns_error`), a name not resolved (yet) is connected to by name.
    public init(upstream: Upstream, targets: [Target], registry: HealthRegistry? = nil, resolved: [String: ResolvedName] = [:]) {
        self.upstream = upstream
        health = HealthcheckSettings(upstream.healthchecks)
        var entries: [Entry] = []
        for target in targets where target.weight > 0 {
            guard let name = resolved[target.host] else {
                entries.append(Entry(key: PoolKey(host: target.host, port: target.port), weight: target.weight, target: target, ringKey: target.target))
                continue
            }
            let total = name.addresses.map(\.weight).reduce(0, +)
            for address in name.addresses {
                let share = total > 0 ? target.weight * address.weight / total : target.weight / max(1, name.addresses.count)
                guard total == 0 || address.weight > 0 else { continue }
                let port = address.port ?? target.port
                entries.append(Entry(
                    key: PoolKey(host: address.ip, port: port), weight: max(1, share), target: target,
                    ringKey: "\(target.target)@\(address.ip):\(port)"))
            }
        }
        self.targets = entries.map(\.key)
        names = entries.map(\.target.host)
        weights = entries.map(\.weight)
        // Kept even with checks off: a target can still be set unhealthy by hand (Admin API).
        if let registry {
            targetHealth = entries.map { registry.health(upstream: upstream.name, target: $0.target.target, host: $0.key.host, port: $0.key.port) }
        } else {
            targetHealth = nil
        }
        let live = entries
        let divisor = live.map(\.weight).reduce(0, Self.gcd)
        var wheel: [Int] = []
        if divisor > 0 {
            // Interleave so that consecutive picks spread over targets (a, b, a, b, a …).
            var remaining = live.map { $0.weight / divisor }
            while remaining.contains(where: { $0 > 0 }) {
                for i in live.indices where remaining[i] > 0 {
                    wheel.append(i)
                    remaining[i] -= 1
                }
            }
        }
        self.wheel = wheel
        switch upstream.algorithm {
        case "consistent-hashing": algorithm = .consistentHashing
        case "least-connections": algorithm = .leastConnections
        case "latency": algorithm = .latency
        default: algorithm = .roundRobin
        }
        ring = algorithm == .consistentHashing ? HashRing(targets: live.map(\.ringKey), weights: weights, slots: upstream.slots) : nil
        let counts = algorithm == .leastConnections || algorithm == .latency
        inFlight = counts ? live.map { _ in ManagedAtomic(0) } : []
        latency = algorithm == .latency ? live.map { _ in ManagedAtomic(0) } : []
    }

    @inline(__always)
    private func available(_ i: Int) -> Bool { targetHealth?[i].isHealthy ?? true }

    /// The next healthy target, or nil when none is available.
    /// - Parameter hashKey: consistent-hashing's key for this request (nil: round-robin).
    public func next(hashKey: String? = nil) -> Pick? {
        guard !wheel.isEmpty else { return nil }
        if health.threshold > 0, let targetHealth {
            var total = 0, available = 0
            for (i, weight) in weights.enumerated() {
                total += weight
                if targetHealth[i].isHealthy { available += weight }
            }
            guard Double(available) * 100 > health.threshold * Double(total) else { return nil }
        }
        switch algorithm {
        case .consistentHashing:
            if let hashKey, let ring, let start = ring.index(for: hashKey) {
                // The key's point, or the next point of a healthy target.
                for step in 0..<ring.points.count {
                    let owner = ring.owners[(start + step) % ring.points.count]
                    if available(owner) { return pick(owner) }
                }
                return nil
            }
        case .leastConnections, .latency:
            var best = -1
            var bestLoad = 0.0
            // Ties are broken by a rotating start, so idle targets share the traffic.
            let start = position.loadThenWrappingIncrement(ordering: .relaxed) & Int.max
            for k in targets.indices {
                let i = (start + k) % targets.count
                guard available(i) else { continue }
                let pending = Double(inFlight[i].load(ordering: .relaxed) + 1)
                // latency: a target not measured yet (0) is tried first (slow start from there).
                let load = algorithm == .latency
                    ? Double(latency[i].load(ordering: .relaxed) + 1) * pending / Double(weights[i])
                    : pending / Double(weights[i])
                if best < 0 || load < bestLoad {
                    best = i
                    bestLoad = load
                }
            }
            guard best >= 0 else { return nil }
            inFlight[best].wrappingIncrement(ordering: .relaxed)
            return pick(best)
        case .roundRobin:
            break
        }
        for _ in 0..<wheel.count {
            let i = position.loadThenWrappingIncrement(ordering: .relaxed)
            let index = wheel[(i & Int.max) % wheel.count]
            if available(index) { return pick(index) }
        }
        return nil
    }

    private func pick(_ index: Int) -> Pick {
        Pick(target: targets[index], name: names[index], health: targetHealth?[index], index: index)
    }

    /// least-connections and latency: a try on the target picked as `index` ended.
    public func finished(_ index: Int) {
        guard index >= 0, index < inFlight.count else { return }
        inFlight[index].wrappingDecrement(ordering: .relaxed)
    }

    /// latency: the target picked as `index` answered its first byte after `micros`. Peak-EWMA:
    /// a slower answer counts at once, a faster one pulls the average down gradually.
    public func observe(_ index: Int, micros: Int) {
        guard algorithm == .latency, index >= 0, index < latency.count else { return }
        let old = latency[index].load(ordering: .relaxed)
        let new = micros >= old ? micros : old + (micros - old) / 4
        latency[index].store(new, ordering: .relaxed)
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
