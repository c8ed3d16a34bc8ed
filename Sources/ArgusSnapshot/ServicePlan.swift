import ArgusTracing
import ArgusConfig
import ArgusDNS
import Atomics
import ArgusTransport
import NIOCore

/// What the data path needs of a service, computed once per config snapshot so that a request
/// touches one object instead of copying the `Service` entity.
public final class ServicePlan: Sendable {
    public let service: Service
    /// The upstream whose name equals the service host, if any.
    public let balancer: UpstreamBalancer?
    /// Where to connect when there is no balancer: the service's host, or the addresses DNS gave
    /// for its name (SRV then A, kept fresh by the DNS refresher), taken in turn as Kong's
    /// balancer does for a service host.
    public let directTargets: [PoolKey]
    /// The service host is a name DNS could not resolve: Kong's 503 `name resolution failed`.
    public let nameResolutionFailed: Bool
    private let rotation = ManagedAtomic<Int>(0)
    /// `Host` sent upstream when `preserve_host` is off and no balancer picks the target.
    public let directHostHeader: String
    public let connectTimeout: TimeAmount
    public let readTimeout: TimeAmount
    public let writeTimeout: TimeAmount
    public let retries: Int
    /// An `https` or `grpcs` service: connections to its targets speak TLS.
    public let usesTLS: Bool
    /// A `grpc` or `grpcs` service: requests are streams of HTTP/2 connections to its targets.
    public let usesHTTP2: Bool
    /// The service's `tls_verify` (null, Kong's default, means off like nginx's `proxy_ssl_verify`).
    public let tlsVerify: Bool
    /// The CA certificates of its `ca_certificates` (nil: the trusted CAs, `--trusted-ca`).
    public let trust: UpstreamTrust?
    /// Its `client_certificate`, presented to upstreams that ask for one.
    public let identity: ClientIdentity?
    /// TLS for requests whose upstream Host is `directHostHeader` (the common case), made once.
    private let directTLS: UpstreamTLS?
    private let defaultPort: Int

    /// - Parameter resolved: the service host's DNS result, when it is a name DNS resolved (nil:
    ///   an address, no DNS server, or not resolved yet: the host is connected to by name).
    public init(
        service: Service, balancer: UpstreamBalancer?, trust: UpstreamTrust? = nil, identity: ClientIdentity? = nil,
        tlsContexts: TLSClientContexts = .shared, resolved: ResolvedName? = nil
    ) {
        self.identity = identity
        self.service = service
        self.balancer = balancer
        defaultPort = service.protocol == "https" || service.protocol == "grpcs" ? 443 : 80
        if let resolved, balancer == nil {
            directTargets = resolved.addresses.map { PoolKey(host: $0.ip, port: $0.port ?? service.port) }
            nameResolutionFailed = resolved.failed
        } else {
            directTargets = [PoolKey(host: service.host, port: service.port)]
            nameResolutionFailed = false
        }
        directHostHeader = service.port == defaultPort ? service.host : "\(service.host):\(service.port)"
        connectTimeout = .milliseconds(Int64(service.connectTimeout))
        readTimeout = .milliseconds(Int64(service.readTimeout))
        writeTimeout = .milliseconds(Int64(service.writeTimeout))
        retries = service.retries
        usesTLS = service.protocol == "https" || service.protocol == "grpcs"
        usesHTTP2 = service.protocol == "grpc" || service.protocol == "grpcs"
        tlsVerify = service.tlsVerify ?? false
        self.trust = trust
        directTLS = usesTLS
            ? UpstreamTLS(serverName: UpstreamTLS.serverName(forHost: directHostHeader), verify: tlsVerify, trust: trust, identity: identity)
            : nil
        // Made now, while the snapshot is built, rather than by the first request on a loop.
        if usesTLS { _ = try? tlsContexts.context(verify: tlsVerify, trust: trust, identity: identity, http2: usesHTTP2) }
    }

    /// TLS for a request whose upstream `Host` is `hostHeader` (nil for a plain-HTTP service).
    public func tls(hostHeader: String) -> UpstreamTLS? {
        guard usesTLS else { return nil }
        if hostHeader == directHostHeader { return directTLS }
        return UpstreamTLS(serverName: UpstreamTLS.serverName(forHost: hostHeader), verify: tlsVerify, trust: trust, identity: identity)
    }

    /// The target of a request to a service without a balancer (the next address, when DNS gave several).
    public func nextDirectTarget() -> PoolKey {
        if directTargets.count == 1 { return directTargets[0] }
        return directTargets[rotation.loadThenWrappingIncrement(ordering: .relaxed) % directTargets.count]
    }

    /// The `Host` header for a target: the service's host without a balancer; for a target picked
    /// by the balancer (`host_header` overrides), the target's configured `name` (not the address
    /// it resolved to) with the port it connects to.
    public func hostHeader(for target: PoolKey, name: String? = nil) -> String {
        guard let balancer else { return directHostHeader }
        if let override = balancer.upstream.hostHeader { return override }
        let host = name ?? target.host
        return target.port == defaultPort ? host : "\(host):\(target.port)"
    }
}

/// Per-route facts the data path checks on every request.
public struct RoutePlan: Sendable {
    /// The route accepts plain HTTP (else 426 / https redirect); gRPC routes are checked apart.
    public let allowsHTTP: Bool
    /// A route for gRPC (`protocols` grpc and/or grpcs): only HTTP/2 requests with a gRPC content
    /// type go through (Kong's 415 and 426 otherwise).
    public let isGRPC: Bool
    /// `grpcs` alone: a gRPC request over plain HTTP gets gRPC status 1 (Kong's answer).
    public let grpcsOnly: Bool
    public let preserveHost: Bool
    /// 426, or a redirect status (301, 302, 307, 308) for https-only routes hit over http.
    public let httpsRedirectStatus: Int
    /// A logging plugin may apply: the data path records the request's details.
    public let recordsDetail: Bool
    /// The access-phase plugins of the route's requests, in Kong's order (empty: none).
    public let access: [AccessStep]
    /// An authentication plugin runs: the consumer headers a client sent are never passed upstream.
    public let authenticates: Bool
    /// An access plugin may change the upstream request's headers (authentication, acl, correlation-id).
    public let editsUpstream: Bool
    /// The `opentelemetry` instance that traces the route's requests (route, service or global scope).
    public let tracing: TracePlan?

    public init(route: Route, recordsDetail: Bool = false, access: [AccessStep] = [], tracing: TracePlan? = nil) {
        isGRPC = route.protocols.contains("grpc") || route.protocols.contains("grpcs")
        grpcsOnly = isGRPC && !route.protocols.contains("grpc")
        allowsHTTP = isGRPC || route.protocols.contains("http")
        preserveHost = route.preserveHost
        httpsRedirectStatus = route.httpsRedirectStatusCode
        self.recordsDetail = recordsDetail
        self.access = access
        self.tracing = tracing
        authenticates = access.contains { AccessCatalog.authenticating.contains($0.name) }
        editsUpstream = authenticates || access.contains { ["acl", "correlation-id", "request-transformer"].contains($0.name) }
    }
}
