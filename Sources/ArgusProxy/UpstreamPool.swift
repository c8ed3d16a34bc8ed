import ArgusConfig
import ArgusLoop
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// Where an upstream connection goes: a resolved target, and TLS for an `https` service.
struct PoolKey: Hashable, Sendable {
    var host: String
    var port: Int
    /// nil: plain HTTP. Connections are pooled per server name and verification, so a connection
    /// is only reused for requests that would have made the same handshake.
    var tls: UpstreamTLS? = nil
}

/// How Argus speaks TLS to an upstream (Kong: `proxy_ssl_server_name on`, `proxy_ssl_name` =
/// the Host sent upstream, `proxy_ssl_verify` from the service's `tls_verify`, off by default).
struct UpstreamTLS: Hashable, Sendable {
    /// SNI: the upstream Host without its port; nil for an IP address (SNI carries names only).
    var serverName: String?
    /// Verify the certificate chain and the name: against `trust` when set, else the system's roots.
    var verify: Bool
    var trust: UpstreamTrust? = nil

    /// The server name for a `Host` header value (`name`, `name:port`, `[v6]:port`, `1.2.3.4`, or
    /// a bare IPv6 address from a service host): lower-cased, without a trailing dot; nil for an
    /// IP address.
    static func serverName(forHost host: String) -> String? {
        if host.hasPrefix("[") || host.utf8.filter({ $0 == UInt8(ascii: ":") }).count > 1 { return nil }
        var name = Substring(host)
        if let colon = name.lastIndex(of: ":"), name[name.index(after: colon)...].allSatisfy(\.isASCIIDigit) {
            name = name[..<colon]
        }
        if name.hasSuffix(".") { name = name.dropLast() }
        if name.isEmpty || IPv4Literal.isIPv4(name) { return nil }
        return name.lowercased()
    }
}

/// The CA certificates a service trusts (its `ca_certificates`), parsed once per config; equal
/// when they are the same certificates.
final class UpstreamTrust: Hashable, Sendable {
    /// The certificates' digests, in order: what identifies this set.
    let digests: [String]
    let certificates: [NIOSSLCertificate]

    private init(digests: [String], certificates: [NIOSSLCertificate]) {
        self.digests = digests
        self.certificates = certificates
    }

    /// nil for no certificates. They were validated when the config was loaded; one that would
    /// not parse is left out, never replaced by the system's roots (none left: nothing verifies).
    static func make(_ cas: [CACertificate]) -> UpstreamTrust? {
        guard !cas.isEmpty else { return nil }
        let certificates = cas.compactMap { try? NIOSSLCertificate.fromPEMBytes(Array($0.cert.utf8)).first }
        return UpstreamTrust(digests: cas.map(\.certDigest), certificates: certificates)
    }

    static func == (a: UpstreamTrust, b: UpstreamTrust) -> Bool { a.digests == b.digests }
    func hash(into hasher: inout Hasher) { hasher.combine(digests) }
}

/// TLS client contexts, one per verification mode and set of trusted CAs, shared by every loop.
/// A snapshot makes its services' contexts when it is built (`ServicePlan`), off the event loops:
/// with verification against the system's roots, making one reads the whole trust store.
final class UpstreamTLSContexts: Sendable {
    static let shared = UpstreamTLSContexts()

    private struct Key: Hashable {
        var verify: Bool
        var trust: UpstreamTrust?
    }

    private let contexts = NIOLockedValueBox<[Key: NIOSSLContext]>([:])

    func context(verify: Bool, trust: UpstreamTrust?) throws -> NIOSSLContext {
        let key = Key(verify: verify, trust: verify ? trust : nil)
        if let context = contexts.withLockedValue({ $0[key] }) { return context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = verify ? .fullVerification : .none
        if let trust = key.trust { configuration.trustRoots = .certificates(trust.certificates) }
        let context = try NIOSSLContext(configuration: configuration)
        return contexts.withLockedValue { contexts in
            if let existing = contexts[key] { return existing }
            contexts[key] = context
            return context
        }
    }

    /// Forgets every context that neither `used` (the TLS settings of the services of the
    /// snapshot just built) nor the previous call's settings need, so that CA sets configured
    /// once and since removed do not stay in memory. One generation is kept on purpose: requests
    /// still running under the snapshot being replaced find their contexts (rather than make them
    /// again on an event loop, which for the system's roots means reading the trust store).
    func keepOnly(_ used: [(verify: Bool, trust: UpstreamTrust?)]) {
        let keys = Set(used.map { Key(verify: $0.verify, trust: $0.verify ? $0.trust : nil) })
        generations.withLockedValue { previous in
            let kept = keys.union(previous)
            previous = keys
            contexts.withLockedValue { contexts in contexts = contexts.filter { kept.contains($0.key) } }
        }
    }

    /// The settings the last ``keepOnly(_:)`` was given.
    private let generations = NIOLockedValueBox<Set<Key>>([])

    /// Whether a context for these settings is kept.
    func has(verify: Bool, trust: UpstreamTrust?) -> Bool {
        contexts.withLockedValue { $0[Key(verify: verify, trust: verify ? trust : nil)] != nil }
    }
}

private enum IPv4Literal {
    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCIIDigit) }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Idle keep-alive connections to upstream targets, one pool per event loop, so that a client
/// connection and its upstream connection share a thread and no lock is ever taken.
final class UpstreamPool {
    /// The idle connections to one target, most recently used last.
    private final class IdleList {
        var handlers: [UpstreamConnection] = []
    }

    private let eventLoop: IOLoop
    private let settings: ProxySettings
    private var idle: [PoolKey: IdleList] = [:]
    /// The list used last: most traffic goes to one target at a time, and comparing keys is
    /// cheaper than hashing one.
    private var lastKey: PoolKey?
    private var lastList: IdleList?
    private var sweeper: Scheduled<Void>?


    init(eventLoop: IOLoop, settings: ProxySettings) {
        self.eventLoop = eventLoop
        self.settings = settings
    }

    /// The idle list of `key`; a new one only when `create` (a connection is being put back), so
    /// that misses for keys that never get a connection leave nothing behind.
    private func list(_ key: PoolKey, create: Bool) -> IdleList? {
        if let lastList, lastKey == key { return lastList }
        let list: IdleList
        if let existing = idle[key] {
            list = existing
        } else if create {
            list = IdleList()
            idle[key] = list
        } else {
            return nil
        }
        lastKey = key
        lastList = list
        return list
    }

    /// An idle, open connection to `key`, if there is one.
    func take(_ key: PoolKey) -> UpstreamConnection? {
        guard let list = list(key, create: false) else { return nil }
        while let handler = list.handlers.popLast() {
            if handler.isActive { return handler }
        }
        return nil
    }

    func release(_ handler: UpstreamConnection) {
        let list = list(handler.key, create: true)!
        guard handler.requestsServed < settings.upstreamMaxRequestsPerConnection,
            list.handlers.count < settings.upstreamPoolSizePerTarget
        else {
            handler.abort()
            return
        }
        // The read that ended its response is recent enough for the idle timeout (no clock read).
        handler.idleSince = handler.lastReadAt
        list.handlers.append(handler)
        startSweeperIfNeeded()
    }

    func remove(_ handler: UpstreamConnection) {
        guard let list = idle[handler.key], let i = list.handlers.firstIndex(where: { $0 === handler }) else { return }
        list.handlers.remove(at: i)
    }

    var idleCount: Int { idle.values.reduce(0) { $0 + $1.handlers.count } }

    /// Closes every idle connection (shutdown).
    func closeAll() {
        let all = idle.values.flatMap { $0.handlers }
        idle.removeAll()
        lastKey = nil
        lastList = nil
        for handler in all { handler.abort() }
        sweeper?.cancel()
        sweeper = nil
    }

    /// Connects a new connection to `key` on this pool's event loop (over TLS for an `https`
    /// service: the handshake runs as the request is written, and a failed one closes the
    /// connection, which the exchange sees as a failed connection). A host name is resolved off
    /// the loop (`getaddrinfo` on NIO's blocking-I/O pool), and its addresses tried in order.
    func connect(_ key: PoolKey, timeout: TimeAmount) -> EventLoopFuture<UpstreamConnection> {
        var tls: (context: NIOSSLContext, serverName: String?)?
        if let settings = key.tls {
            do {
                tls = (try UpstreamTLSContexts.shared.context(verify: settings.verify, trust: settings.trust), settings.serverName)
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
        let loop = eventLoop
        let connected: EventLoopFuture<Int32>
        if let address = try? SocketAddress(ipAddress: key.host, port: key.port) {
            connected = TCPConnector.connect(to: address, on: loop, timeout: timeout)
        } else {
            // The connect timeout covers the lookup too (a resolver that does not answer).
            let started = NIODeadline.now()
            let (host, port) = (key.host, key.port)
            let resolved = loop.makePromise(of: [SocketAddress].self)
            NIOSingletons.posixBlockingThreadPool.runIfActive(eventLoop: loop) {
                try SocketAddress.resolveAll(host: host, port: port)
            }.cascade(to: resolved)
            let timer = loop.scheduleTask(in: timeout) { resolved.fail(ChannelError.connectTimeout(timeout)) }
            connected = resolved.futureResult.flatMap { addresses in
                timer.cancel()
                return TCPConnector.connect(to: addresses, on: loop, timeout: timeout - (.now() - started))
            }
        }
        return connected.assumeIsolated().flatMapThrowing { [tls] fd in
            let connection = try UpstreamConnection(key: key, tcp: TCPConnection(fd: fd, loop: loop), tls: tls)
            connection.pool = self
            return connection
        }.nonisolated()
    }

    /// Checks idle connections once a second while there are any.
    private func startSweeperIfNeeded() {
        guard sweeper == nil else { return }
        // A strong capture: the pool lives as long as its loop's context anyway, and a weak
        // reference would give the pool a side table, making every retain of it a slow one.
        sweeper = eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) {
            self.sweeper = nil
            self.sweep()
            if self.idleCount > 0 { self.startSweeperIfNeeded() }
        }
    }

    private func sweep() {
        let cutoff = NIODeadline.now() - settings.upstreamIdleTimeout
        for (key, list) in idle {
            let expired = list.handlers.filter { $0.idleSince < cutoff || !$0.isActive }
            if !expired.isEmpty {
                list.handlers.removeAll { $0.idleSince < cutoff || !$0.isActive }
                for handler in expired { handler.abort() }
            }
            // Lists of targets no longer used are dropped (a DNS-discovered address went away).
            if list.handlers.isEmpty && list !== lastList { idle[key] = nil }
        }
    }
}

@available(*, unavailable)
extension UpstreamPool: Sendable {}
