import ArgusConfig
import Atomics

/// Picks a target of an upstream: Kong's weighted round-robin (weights reduced by their GCD and
/// expanded into a wheel that is walked in order). Health checks and the other algorithms come
/// with the upstreams issue; until then every target with weight > 0 is a candidate.
final class UpstreamBalancer: Sendable {
    let upstream: Upstream
    let wheel: [PoolKey]
    private let position = ManagedAtomic<Int>(0)

    init(upstream: Upstream, targets: [Target]) {
        self.upstream = upstream
        let live = targets.filter { $0.weight > 0 }
        let divisor = live.map(\.weight).reduce(0, Self.gcd)
        var wheel: [PoolKey] = []
        if divisor > 0 {
            // Interleave so that consecutive picks spread over targets (a, b, a, b, a …).
            var remaining = live.map { $0.weight / divisor }
            while remaining.contains(where: { $0 > 0 }) {
                for i in live.indices where remaining[i] > 0 {
                    wheel.append(PoolKey(host: live[i].host, port: live[i].port))
                    remaining[i] -= 1
                }
            }
        }
        self.wheel = wheel
    }

    /// The next target, or nil when the upstream has none (503 `failure to get a peer from the ring-balancer`).
    func next() -> PoolKey? {
        guard !wheel.isEmpty else { return nil }
        let i = position.loadThenWrappingIncrement(ordering: .relaxed)
        return wheel[(i & Int.max) % wheel.count]
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
