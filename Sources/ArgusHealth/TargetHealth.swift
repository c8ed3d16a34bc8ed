import Atomics

/// The health of one target of one upstream on this node, with Kong's counters: a healthy result
/// counts a success and clears the failure counters; a TCP failure, a timeout or an unhealthy
/// status counts in its own counter and clears the successes; reaching a configured threshold
/// (0: that counter is off) flips the state. Thresholds therefore mean consecutive results.
///
/// Shared by every event loop (passive results from real traffic) and the active checker:
/// counters are atomics, and only the result that crosses a threshold flips the state, so each
/// transition is reported once.
public final class TargetHealth: Sendable {
    public let upstream: String
    /// `host:port` as configured.
    public let target: String
    public let host: String
    public let port: Int
    private let healthy = ManagedAtomic<Bool>(true)
    private let successes = ManagedAtomic<Int>(0)
    private let tcpFailures = ManagedAtomic<Int>(0)
    private let timeouts = ManagedAtomic<Int>(0)
    private let httpFailures = ManagedAtomic<Int>(0)

    public init(upstream: String, target: String, host: String, port: Int) {
        self.upstream = upstream
        self.target = target
        self.host = host
        self.port = port
    }

    @inline(__always)
    public var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    public enum Result: Sendable, Equatable {
        case status(Int)
        case tcpFailure
        case timeout
    }

    /// What made the state change: which check and which counter.
    public struct Transition: Sendable, Equatable {
        public var healthy: Bool
        public var check: String
        public var reason: String
    }

    /// Records one result judged with `thresholds`; the transition it caused, if any.
    public func report(_ result: Result, _ t: HealthcheckSettings.Thresholds, check: String) -> Transition? {
        switch result {
        case .status(let code) where t.healthyStatuses.contains(code):
            clear(tcpFailures); clear(timeouts); clear(httpFailures)
            let n = successes.wrappingIncrementThenLoad(ordering: .relaxed)
            if t.successes > 0 && n >= t.successes, healthy.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
                successes.store(0, ordering: .relaxed)
                return Transition(healthy: true, check: check, reason: "successes")
            }
        case .status(let code) where t.unhealthyStatuses.contains(code):
            return failure(httpFailures, t.httpFailures, check: check, reason: "http_failures")
        case .status:
            break
        case .tcpFailure:
            return failure(tcpFailures, t.tcpFailures, check: check, reason: "tcp_failures")
        case .timeout:
            return failure(timeouts, t.timeouts, check: check, reason: "timeouts")
        }
        return nil
    }

    private func failure(_ counter: ManagedAtomic<Int>, _ limit: Int, check: String, reason: String) -> Transition? {
        clear(successes)
        let n = counter.wrappingIncrementThenLoad(ordering: .relaxed)
        guard limit > 0, n >= limit, healthy.compareExchange(expected: true, desired: false, ordering: .relaxed).exchanged else { return nil }
        clear(tcpFailures); clear(timeouts); clear(httpFailures)
        return Transition(healthy: false, check: check, reason: reason)
    }

    /// Sets the state by hand (the Admin API's `PUT …/healthy|unhealthy`); true if it changed.
    @discardableResult
    public func set(healthy value: Bool) -> Bool {
        clear(successes); clear(tcpFailures); clear(timeouts); clear(httpFailures)
        return healthy.exchange(value, ordering: .relaxed) != value
    }

    @inline(__always)
    private func clear(_ counter: ManagedAtomic<Int>) {
        if counter.load(ordering: .relaxed) != 0 { counter.store(0, ordering: .relaxed) }
    }
}
