import ArgusStatistics
import Logging
import NIOConcurrencyHelpers

/// Every target's health on this node, kept across config reloads (a target keeps its state as
/// long as its upstream and address stay), and every health transition, logged with its reason
/// and counted (`argus_upstream_health_transitions_total`).
public final class HealthRegistry: ReportsStatistics, Sendable {
    private struct TransitionKey: Hashable, Sendable {
        var upstream: String, target: String, state: String, check: String, reason: String
    }

    private let targets = NIOLockedValueBox<[String: TargetHealth]>([:])
    private let transitions = NIOLockedValueBox<[TransitionKey: Int]>([:])
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// The health of `target` (`host:port`) of `upstream`, created healthy on first use.
    public func health(upstream: String, target: String, host: String, port: Int) -> TargetHealth {
        targets.withLockedValue { table in
            let key = upstream + "\u{0}" + target
            if let found = table[key] { return found }
            let created = TargetHealth(upstream: upstream, target: target, host: host, port: port)
            table[key] = created
            return created
        }
    }

    /// Records one result for `target`; logs and counts the transition it causes.
    public func report(_ result: TargetHealth.Result, for target: TargetHealth, _ thresholds: HealthcheckSettings.Thresholds, check: String) {
        guard let transition = target.report(result, thresholds, check: check) else { return }
        record(transition, of: target)
    }

    /// Sets a target's state by hand; logged and counted as a `manual` transition when it changes.
    public func set(_ target: TargetHealth, healthy: Bool) {
        if target.set(healthy: healthy) { record(.init(healthy: healthy, check: "manual", reason: "manual"), of: target) }
    }

    func record(_ transition: TargetHealth.Transition, of target: TargetHealth) {
        let state = transition.healthy ? "healthy" : "unhealthy"
        logger.warning(
            "upstream target health changed",
            metadata: [
                "upstream": "\(target.upstream)", "target": "\(target.target)", "state": "\(state)", "check": "\(transition.check)",
                "reason": "\(transition.reason)",
            ])
        let key = TransitionKey(upstream: target.upstream, target: target.target, state: state, check: transition.check, reason: transition.reason)
        transitions.withLockedValue { $0[key, default: 0] += 1 }
    }

    /// Drops the targets that are no longer in the configuration.
    public func retain(_ live: Set<String>) {
        targets.withLockedValue { table in table = table.filter { live.contains($0.key) } }
    }

    public static func key(upstream: String, target: String) -> String { upstream + "\u{0}" + target }

    public func statistics() -> [ExporterStatistic] {
        transitions.withLockedValue { table in
            table.map { key, count in
                ExporterStatistic(
                    family: "argus_upstream_health_transitions_total", kind: .counter,
                    help: "Upstream target health changes, by new state, check (active, passive, manual) and the counter that tripped",
                    labels: [.init("upstream", key.upstream), .init("target", key.target), .init("state", key.state),
                             .init("check", key.check), .init("reason", key.reason)],
                    value: Double(count))
            }
        }
    }
}
