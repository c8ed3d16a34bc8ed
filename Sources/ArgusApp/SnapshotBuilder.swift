import ArgusConfig
import ArgusDNS
import ArgusHealth
import ArgusProxy
import ArgusSnapshot
import ArgusTransport
import NIOConcurrencyHelpers
import NIOCore

/// Makes the snapshot requests see from the latest configuration and the latest DNS results and
/// swaps it in: config changes (a reload, an Admin API write) and DNS changes, one at a time.
/// The DNS refresher calls back into it weakly: nothing here keeps the gateway alive.
final class SnapshotBuilder: Sendable {
    let store: SnapshotStore
    let health: HealthRegistry
    let checker: ActiveHealthChecker
    private let latest: NIOLockedValueBox<DeclarativeConfig>
    private let lock = NIOLock()
    /// Keeps the names of upstream targets and service hosts resolved (nil without a DNS server).
    let dns: DNSRefresher?

    /// What TLS listeners serve when no SNI matches.
    let defaultCertificate: ServerCertificate?

    init(config: DeclarativeConfig, defaultCertificate: ServerCertificate?, health: HealthRegistry, checker: ActiveHealthChecker, dnsClient: DNSClient?) {
        self.health = health
        self.defaultCertificate = defaultCertificate
        self.checker = checker
        latest = NIOLockedValueBox(config)
        store = SnapshotStore(ConfigSnapshot(config: config, health: health, defaultCertificate: defaultCertificate))
        guard let dnsClient else {
            dns = nil
            return
        }
        let builder = NIOLockedValueBox(WeakBuilder())
        dns = DNSRefresher(resolver: TargetResolver(client: dnsClient)) { _ in builder.withLockedValue { $0.value }?.rebuild() }
        builder.withLockedValue { $0.value = self }
    }

    /// The DNS refresher's way back (weak: the builder owns the refresher).
    private struct WeakBuilder {
        weak var value: SnapshotBuilder?
    }

    /// The configuration the last snapshot was built from.
    var config: DeclarativeConfig { latest.withLockedValue { $0 } }

    /// At start, before the proxy listens: resolves every name of the configuration and keeps
    /// them resolved; builds the first snapshot to serve and starts its health checks.
    func start() async {
        if let dns {
            _ = dns.update(names: Self.names(config))
            try? await dns.resolveAll().get()
            dns.start()
        }
        rebuild()
    }

    /// Makes `config` the one requests see from the next request on (requests in flight finish on theirs).
    func apply(_ config: DeclarativeConfig) {
        latest.withLockedValue { $0 = config }
        rebuild()
        // names new to DNS are resolved now; their results rebuild the snapshot again
        if let dns { _ = dns.update(names: Self.names(config)) }
    }

    func rebuild() {
        lock.withLock {
            let config = latest.withLockedValue { $0 }
            let snapshot = ConfigSnapshot(config: config, health: health, resolved: dns?.current ?? [:], defaultCertificate: defaultCertificate)
            store.replace(with: snapshot)
            // Targets that left the configuration are forgotten; the others keep their state.
            let upstreamNames = Dictionary(config.upstreams.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            health.retain(Set(config.targets.compactMap { t in upstreamNames[t.upstreamID].map { HealthRegistry.key(upstream: $0, target: t.target) } }))
            checker.update(snapshot.activelyChecked)
        }
    }

    /// Names to keep resolved: upstream target hosts, and the hosts of services that do not name
    /// an upstream, that are not IP addresses.
    static func names(_ config: DeclarativeConfig) -> Set<String> {
        let upstreams = Set(config.upstreams.map(\.name))
        let hosts = config.targets.map(\.host) + config.services.map(\.host).filter { !upstreams.contains($0) }
        return Set(hosts.filter { (try? SocketAddress(ipAddress: $0, port: 0)) == nil })
    }

    func stop() async {
        guard let dns else { return }
        dns.stop()
        await dns.resolver.client.close()
    }
}
