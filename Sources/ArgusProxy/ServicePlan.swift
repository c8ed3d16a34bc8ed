import ArgusConfig
import ArgusTransport
import NIOCore

/// What the data path needs of a service, computed once per config snapshot so that a request
/// touches one object instead of copying the `Service` entity.
final class ServicePlan: Sendable {
    let service: Service
    /// The upstream whose name equals the service host, if any.
    let balancer: UpstreamBalancer?
    /// Where to connect when there is no balancer.
    let directTarget: PoolKey
    /// `Host` sent upstream when `preserve_host` is off and no balancer picks the target.
    let directHostHeader: String
    let connectTimeout: TimeAmount
    let readTimeout: TimeAmount
    let writeTimeout: TimeAmount
    let retries: Int
    /// An `https` service: connections to its targets speak TLS.
    let usesTLS: Bool
    /// The service's `tls_verify` (null, Kong's default, means off like nginx's `proxy_ssl_verify`).
    let tlsVerify: Bool
    /// The CA certificates of its `ca_certificates` (nil: the system's trust roots).
    let trust: UpstreamTrust?
    /// TLS for requests whose upstream Host is `directHostHeader` (the common case), made once.
    private let directTLS: UpstreamTLS?
    private let defaultPort: Int

    init(service: Service, balancer: UpstreamBalancer?, trust: UpstreamTrust? = nil, tlsContexts: TLSClientContexts = .shared) {
        self.service = service
        self.balancer = balancer
        defaultPort = service.protocol == "https" ? 443 : 80
        directTarget = PoolKey(host: service.host, port: service.port)
        directHostHeader = service.port == defaultPort ? service.host : "\(service.host):\(service.port)"
        connectTimeout = .milliseconds(Int64(service.connectTimeout))
        readTimeout = .milliseconds(Int64(service.readTimeout))
        writeTimeout = .milliseconds(Int64(service.writeTimeout))
        retries = service.retries
        usesTLS = service.protocol == "https"
        tlsVerify = service.tlsVerify ?? false
        self.trust = trust
        directTLS = usesTLS
            ? UpstreamTLS(serverName: UpstreamTLS.serverName(forHost: directHostHeader), verify: tlsVerify, trust: trust) : nil
        // Made now, while the snapshot is built, rather than by the first request on a loop.
        if usesTLS { _ = try? tlsContexts.context(verify: tlsVerify, trust: trust) }
    }

    /// TLS for a request whose upstream `Host` is `hostHeader` (nil for a plain-HTTP service).
    func tls(hostHeader: String) -> UpstreamTLS? {
        guard usesTLS else { return nil }
        if hostHeader == directHostHeader { return directTLS }
        return UpstreamTLS(serverName: UpstreamTLS.serverName(forHost: hostHeader), verify: tlsVerify, trust: trust)
    }

    /// The `Host` header for a target picked by the balancer (`host_header` overrides): the
    /// target's configured `name` (not the address it resolved to) with the port it connects to.
    func hostHeader(for target: PoolKey, name: String? = nil) -> String {
        if let override = balancer?.upstream.hostHeader { return override }
        if target == directTarget { return directHostHeader }
        let host = name ?? target.host
        return target.port == defaultPort ? host : "\(host):\(target.port)"
    }
}

/// Per-route facts the data path checks on every request.
struct RoutePlan: Sendable {
    /// The route accepts plain HTTP (else 426 / https redirect).
    let allowsHTTP: Bool
    let preserveHost: Bool
    /// 426, or a redirect status (301, 302, 307, 308) for https-only routes hit over http.
    let httpsRedirectStatus: Int
    /// A logging plugin may apply: the data path records the request's details.
    let recordsDetail: Bool
    /// The access-phase plugins of the route's requests, in Kong's order (empty: none).
    let access: [AccessStep]
    /// An authentication plugin runs: the consumer headers a client sent are never passed upstream.
    let authenticates: Bool
    /// An access plugin may change the upstream request's headers (authentication, acl, correlation-id).
    let editsUpstream: Bool

    init(route: Route, recordsDetail: Bool = false, access: [AccessStep] = []) {
        allowsHTTP = route.protocols.contains("http")
        preserveHost = route.preserveHost
        httpsRedirectStatus = route.httpsRedirectStatusCode
        self.recordsDetail = recordsDetail
        self.access = access
        authenticates = access.contains { AccessCatalog.authenticating.contains($0.name) }
        editsUpstream = authenticates || access.contains { ["acl", "correlation-id", "request-transformer"].contains($0.name) }
    }
}
