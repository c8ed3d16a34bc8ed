import ArgusConfig
import ArgusHealth
import Atomics

/// Picks a target of an upstream: Kong's weighted round-robin (weights reduced by their GCD and
/// expanded into a wheel that is walked in order), skipping targets the health checks took out.
/// With no healthy target, or less available weight than the upstream's `threshold`, there is no
/// pick (503 `failure to get a peer from the ring-balancer`).
final class UpstreamBalancer: Sendable {
    let upstream: Upstream
    let health: HealthcheckSettings
    /// The targets with weight > 0, and (when health checks are on) their health.
    let targets: [PoolKey]
    let weights: [Int]
    let targetHealth: [TargetHealth]?
    /// Indexes into `targets`.
    let wheel: [Int]
    private let position = ManagedAtomic<Int>(0)

    /// One pick: where to connect, and the health to report the try's outcome to (nil: checks off).
    struct Pick {
        var target: PoolKey
        var health: TargetHealth?
    }

    init(upstream: Upstream, targets: [Target], registry: HealthRegistry? = nil) {
        self.upstream = upstream
        health = HealthcheckSettings(upstream.healthchecks)
        let live = targets.filter { $0.weight > 0 }
        self.targets = live.map { PoolKey(host: $0.host, port: $0.port) }
        weights = live.map(\.weight)
        // Kept even with checks off: a target can still be set unhealthy by hand (Admin API).
        if let registry {
            targetHealth = live.map { registry.health(upstream: upstream.name, target: $0.target, host: $0.host, port: $0.port) }
        } else {
            targetHealth = nil
        }
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
    }

    /// The next healthy target, or nil when none is available.
    func next() -> Pick? {
        guard !wheel.isEmpty else { return nil }
        guard let targetHealth else {
            let i = position.loadThenWrappingIncrement(ordering: .relaxed)
            return Pick(target: targets[wheel[(i & Int.max) % wheel.count]], health: nil)
        }
        if health.threshold > 0 {
            var total = 0, available = 0
            for (i, weight) in weights.enumerated() {
                total += weight
                if targetHealth[i].isHealthy { available += weight }
            }
            guard Double(available) * 100 > health.threshold * Double(total) else { return nil }
        }
        for _ in 0..<wheel.count {
            let i = position.loadThenWrappingIncrement(ordering: .relaxed)
            let index = wheel[(i & Int.max) % wheel.count]
            if targetHealth[index].isHealthy { return Pick(target: targets[index], health: targetHealth[index]) }
        }
        return nil
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
