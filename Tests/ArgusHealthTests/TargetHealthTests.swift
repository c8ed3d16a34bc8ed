import ArgusConfig
import ArgusHealth
import ArgusStatistics
import Logging
import Testing

private let yaml = """
    _format_version: "3.0"
    upstreams:
      - name: plain
      - name: checked
        healthchecks:
          active:
            type: https
            http_path: /status
            healthy: {interval: 5, successes: 2}
            unhealthy: {interval: 10, http_failures: 2, tcp_failures: 1, timeouts: 3}
          passive:
            healthy: {successes: 2}
            unhealthy: {http_failures: 3, tcp_failures: 2, timeouts: 2}
          threshold: 25
    """

private func loadSettings(_ upstream: String) throws -> HealthcheckSettings {
    let config = try ConfigLoader.parse(text: yaml, file: "kong.yml")
    let found = try #require(config.upstreams.first { $0.name == upstream })
    return HealthcheckSettings(found.healthchecks)
}

private func target(_ name: String = "10.0.0.1:80") -> TargetHealth {
    TargetHealth(upstream: "pool", target: name, host: "10.0.0.1", port: 80)
}

private func quietRegistry() -> HealthRegistry {
    HealthRegistry(logger: Logger(label: "argus-health-test", factory: { _ in SwiftLogNoOpLogHandler() }))
}

@Suite struct HealthcheckSettingsTests {
    @Test func kongDefaultsTurnEveryCounterOff() throws {
        let plain = try loadSettings("plain")
        #expect(!plain.enabled && !plain.activeEnabled && !plain.passiveEnabled)
        #expect(plain.passive.healthyStatuses.count == 19)
        #expect(plain.passive.healthyStatuses.contains(200) && plain.passive.healthyStatuses.contains(308))
        #expect(plain.passive.unhealthyStatuses == [429, 500, 503])
        #expect(plain.active.healthyStatuses == [200, 302])
        #expect(plain.active.unhealthyStatuses == [429, 404, 500, 501, 502, 503, 504, 505])
        for t in [plain.active, plain.passive] {
            #expect(t.successes == 0 && t.httpFailures == 0 && t.tcpFailures == 0 && t.timeouts == 0)
        }
        #expect(plain.activeType == .http && plain.httpPath == "/" && plain.timeoutSeconds == 1 && plain.concurrency == 10)
        #expect(plain.httpsVerifyCertificate && plain.httpsSNI == nil && plain.threshold == 0)
    }

    @Test func configuredCountersAreRead() throws {
        let checked = try loadSettings("checked")
        #expect(checked.enabled && checked.activeEnabled && checked.passiveEnabled)
        #expect(checked.passive.successes == 2 && checked.passive.httpFailures == 3)
        #expect(checked.passive.tcpFailures == 2 && checked.passive.timeouts == 2)
        #expect(checked.active.successes == 2 && checked.active.httpFailures == 2)
        #expect(checked.active.tcpFailures == 1 && checked.active.timeouts == 3)
        #expect(checked.healthyInterval == 5 && checked.unhealthyInterval == 10)
        #expect(checked.activeType == .https && checked.httpPath == "/status" && checked.threshold == 25)
        // The statuses keep Kong's defaults when only the counters are configured.
        #expect(checked.passive.unhealthyStatuses == [429, 500, 503])
    }
}

@Suite struct TargetHealthTests {
    @Test func startsHealthyAndIgnoresCountersThatAreOff() throws {
        let t = try loadSettings("plain").passive
        let health = target()
        #expect(health.isHealthy)
        for _ in 0..<50 {
            #expect(health.report(.status(500), t, check: "passive") == nil)
            #expect(health.report(.tcpFailure, t, check: "passive") == nil)
            #expect(health.report(.timeout, t, check: "passive") == nil)
        }
        #expect(health.isHealthy)
    }

    @Test func consecutiveHTTPFailuresFlipToUnhealthyOnce() throws {
        let t = try loadSettings("checked").passive
        let health = target()
        #expect(health.report(.status(500), t, check: "passive") == nil)
        #expect(health.report(.status(503), t, check: "passive") == nil)
        #expect(health.isHealthy)
        let flip = try #require(health.report(.status(429), t, check: "passive"))
        #expect(!flip.healthy && flip.check == "passive" && flip.reason == "http_failures")
        #expect(!health.isHealthy)
        // Only the crossing result reports the transition.
        for _ in 0..<5 {
            #expect(health.report(.status(500), t, check: "passive") == nil)
            #expect(health.report(.timeout, t, check: "passive") == nil)
        }
        #expect(!health.isHealthy)
    }

    @Test func aHealthyResultClearsTheFailureCounts() throws {
        let t = try loadSettings("checked").passive
        let health = target()
        for _ in 0..<10 {
            #expect(health.report(.status(500), t, check: "passive") == nil)
            #expect(health.report(.status(500), t, check: "passive") == nil)
            #expect(health.report(.status(200), t, check: "passive") == nil)
        }
        #expect(health.isHealthy)
    }

    @Test func aStatusInNeitherListChangesNothing() throws {
        let t = try loadSettings("checked").passive
        let health = target()
        #expect(health.report(.status(500), t, check: "passive") == nil)
        #expect(health.report(.status(500), t, check: "passive") == nil)
        // 404 is neither healthy nor unhealthy for passive checks: the two failures still count.
        #expect(health.report(.status(404), t, check: "passive") == nil)
        #expect(health.report(.status(500), t, check: "passive")?.reason == "http_failures")
    }

    @Test func timeoutsTCPFailuresAndHTTPFailuresCountSeparately() throws {
        let t = try loadSettings("checked").passive  // http 3, tcp 2, timeouts 2
        let health = target()
        #expect(health.report(.timeout, t, check: "passive") == nil)
        #expect(health.report(.tcpFailure, t, check: "passive") == nil)
        #expect(health.report(.status(500), t, check: "passive") == nil)
        #expect(health.report(.status(500), t, check: "passive") == nil)
        #expect(health.isHealthy)
        let flip = try #require(health.report(.timeout, t, check: "passive"))
        #expect(!flip.healthy && flip.reason == "timeouts")

        let other = target("10.0.0.2:80")
        #expect(other.report(.status(500), t, check: "passive") == nil)
        #expect(other.report(.tcpFailure, t, check: "passive") == nil)
        #expect(other.report(.timeout, t, check: "passive") == nil)
        #expect(other.report(.tcpFailure, t, check: "passive")?.reason == "tcp_failures")
    }

    @Test func successesBringItBackAndAFullRunOfFailuresIsNeededAgain() throws {
        let t = try loadSettings("checked").passive
        let health = target()
        for _ in 0..<2 { _ = health.report(.tcpFailure, t, check: "passive") }
        #expect(!health.isHealthy)
        #expect(health.report(.status(200), t, check: "passive") == nil)
        #expect(!health.isHealthy)
        // A failure between successes starts the success count over.
        #expect(health.report(.status(500), t, check: "passive") == nil)
        #expect(health.report(.status(200), t, check: "passive") == nil)
        let back = try #require(health.report(.status(204), t, check: "passive"))
        #expect(back.healthy && back.reason == "successes" && back.check == "passive")
        #expect(health.isHealthy)
        // Healthy again, it takes the whole threshold to go down again.
        #expect(health.report(.tcpFailure, t, check: "passive") == nil)
        #expect(health.isHealthy)
        #expect(health.report(.tcpFailure, t, check: "passive")?.reason == "tcp_failures")
    }

    @Test func withoutASuccessThresholdAnUnhealthyTargetStaysDown() throws {
        // Passive successes default to 0: Kong never brings a target back from traffic alone.
        let settings = try loadSettings("plain")
        var t = settings.passive
        t.tcpFailures = 1
        let health = target()
        #expect(health.report(.tcpFailure, t, check: "passive")?.healthy == false)
        for _ in 0..<20 { #expect(health.report(.status(200), t, check: "passive") == nil) }
        #expect(!health.isHealthy)
    }

    @Test func activeAndPassiveUseTheirOwnStatusLists() throws {
        let settings = try loadSettings("checked")
        let passive = target("10.0.0.1:80")
        for _ in 0..<10 { #expect(passive.report(.status(404), settings.passive, check: "passive") == nil) }
        #expect(passive.isHealthy)

        let active = target("10.0.0.2:80")
        #expect(active.report(.status(404), settings.active, check: "active") == nil)
        let down = try #require(active.report(.status(404), settings.active, check: "active"))
        #expect(!down.healthy && down.check == "active" && down.reason == "http_failures")
        // 204 is healthy for passive checks but not for active ones (200, 302).
        for _ in 0..<5 { #expect(active.report(.status(204), settings.active, check: "active") == nil) }
        #expect(!active.isHealthy)
        #expect(active.report(.status(302), settings.active, check: "active") == nil)
        #expect(active.report(.status(200), settings.active, check: "active")?.healthy == true)
        // One TCP failure is enough for the active check here.
        #expect(active.report(.tcpFailure, settings.active, check: "active")?.reason == "tcp_failures")
    }

    @Test func settingByHandReportsWhetherItChangedAndClearsCounters() throws {
        let t = try loadSettings("checked").passive
        let health = target()
        #expect(!health.set(healthy: true))
        #expect(health.set(healthy: false))
        #expect(!health.isHealthy)
        #expect(!health.set(healthy: false))
        #expect(health.report(.status(200), t, check: "passive") == nil)
        #expect(health.set(healthy: true))
        #expect(health.isHealthy)

        // Counts made before a manual change do not carry over.
        _ = health.report(.status(500), t, check: "passive")
        _ = health.report(.status(500), t, check: "passive")
        health.set(healthy: true)
        #expect(health.report(.status(500), t, check: "passive") == nil)
        #expect(health.isHealthy)
    }
}

@Suite struct HealthRegistryTests {
    @Test func keepsStateAcrossRetainAndForgetsRemovedTargets() throws {
        let t = try loadSettings("checked").passive
        let registry = quietRegistry()
        let a = registry.health(upstream: "pool", target: "a:80", host: "a", port: 80)
        let b = registry.health(upstream: "pool", target: "b:80", host: "b", port: 80)
        #expect(registry.health(upstream: "pool", target: "a:80", host: "a", port: 80) === a)
        // The same address in another upstream is another target.
        let elsewhere = registry.health(upstream: "other", target: "a:80", host: "a", port: 80)
        #expect(elsewhere !== a)
        #expect(a.upstream == "pool" && a.target == "a:80" && a.host == "a" && a.port == 80)

        for _ in 0..<2 { registry.report(.tcpFailure, for: a, t, check: "passive") }
        for _ in 0..<2 { registry.report(.tcpFailure, for: b, t, check: "passive") }
        #expect(!a.isHealthy && !b.isHealthy && elsewhere.isHealthy)

        registry.retain([HealthRegistry.key(upstream: "pool", target: "a:80"), HealthRegistry.key(upstream: "other", target: "a:80")])
        let keptA = registry.health(upstream: "pool", target: "a:80", host: "a", port: 80)
        #expect(keptA === a && !keptA.isHealthy)
        #expect(registry.health(upstream: "other", target: "a:80", host: "a", port: 80) === elsewhere)
        let newB = registry.health(upstream: "pool", target: "b:80", host: "b", port: 80)
        #expect(newB !== b && newB.isHealthy)

        registry.retain([])
        #expect(registry.health(upstream: "pool", target: "a:80", host: "a", port: 80) !== a)
    }

    @Test func countsTransitionsByStateCheckAndReason() throws {
        let settings = try loadSettings("checked")
        let registry = quietRegistry()
        #expect(registry.statistics().isEmpty)
        let a = registry.health(upstream: "pool", target: "a:80", host: "a", port: 80)

        // Two passive trips by timeouts, one active recovery, one manual change, one no-op manual set.
        for _ in 0..<2 { registry.report(.timeout, for: a, settings.passive, check: "passive") }
        for _ in 0..<2 { registry.report(.status(200), for: a, settings.active, check: "active") }
        for _ in 0..<2 { registry.report(.timeout, for: a, settings.passive, check: "passive") }
        registry.report(.timeout, for: a, settings.passive, check: "passive")  // already down: no transition
        registry.set(a, healthy: true)
        registry.set(a, healthy: true)

        let stats = registry.statistics()
        let allCounters = stats.allSatisfy { $0.family == "argus_upstream_health_transitions_total" && $0.kind == .counter }
        #expect(allCounters)
        func count(_ state: String, _ check: String, _ reason: String) -> Double? {
            let labels: [ExporterStatistic.Label] = [
                .init("upstream", "pool"), .init("target", "a:80"), .init("state", state), .init("check", check), .init("reason", reason),
            ]
            return stats.first { $0.labels == labels }?.value
        }
        #expect(stats.count == 3)
        #expect(count("unhealthy", "passive", "timeouts") == 2)
        #expect(count("healthy", "active", "successes") == 1)
        #expect(count("healthy", "manual", "manual") == 1)
        #expect(a.isHealthy)
    }
}
