import ArgusLoop
import NIOCore
import NIOPosix
import NIOSSL

/// Idle keep-alive connections to upstream targets, one pool per event loop, so that a client
/// connection and its upstream connection share a thread and no lock is ever taken.
public final class UpstreamPool {
    /// kong.conf's `upstream_keepalive_*`.
    public struct Limits: Sendable {
        /// Idle connections per target kept at most (`upstream_keepalive_pool_size`).
        public var poolSizePerTarget: Int
        /// Requests per connection at most (`upstream_keepalive_max_requests`).
        public var maxRequestsPerConnection: Int
        /// An idle connection closes after this long (`upstream_keepalive_idle_timeout`).
        public var idleTimeout: TimeAmount

        public init(poolSizePerTarget: Int, maxRequestsPerConnection: Int, idleTimeout: TimeAmount) {
            self.poolSizePerTarget = poolSizePerTarget
            self.maxRequestsPerConnection = maxRequestsPerConnection
            self.idleTimeout = idleTimeout
        }
    }

    /// The idle connections to one target, most recently used last.
    private final class IdleList {
        var handlers: [UpstreamConnection] = []
    }

    private let eventLoop: IOLoop
    private let limits: Limits
    private let tlsContexts: TLSClientContexts
    private var idle: [PoolKey: IdleList] = [:]
    /// The list used last: most traffic goes to one target at a time, and comparing keys is
    /// cheaper than hashing one.
    private var lastKey: PoolKey?
    private var lastList: IdleList?
    private var sweeper: Scheduled<Void>?


    public init(eventLoop: IOLoop, limits: Limits, tlsContexts: TLSClientContexts = .shared) {
        self.eventLoop = eventLoop
        self.limits = limits
        self.tlsContexts = tlsContexts
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
    public func take(_ key: PoolKey) -> UpstreamConnection? {
        guard let list = list(key, create: false) else { return nil }
        while let handler = list.handlers.popLast() {
            if handler.isActive { return handler }
        }
        return nil
    }

    func release(_ handler: UpstreamConnection) {
        let list = list(handler.key, create: true)!
        guard handler.requestsServed < limits.maxRequestsPerConnection,
            list.handlers.count < limits.poolSizePerTarget
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

    public var idleCount: Int { idle.values.reduce(0) { $0 + $1.handlers.count } }

    /// Closes every idle connection (shutdown).
    public func closeAll() {
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
    /// connection, which the exchange sees as a failed connection). A host name is resolved by
    /// ``HostResolver``.
    public func connect(_ key: PoolKey, timeout: TimeAmount) -> EventLoopFuture<UpstreamConnection> {
        connectTransport(key, timeout: timeout).assumeIsolated().flatMapThrowing { transport in
            let connection = try UpstreamConnection(key: key, transport: transport)
            connection.pool = self
            return connection
        }.nonisolated()
    }

    /// A new connection to `key` as a transport, not started (TLS, with `h2` offered by ALPN for
    /// an HTTP/2 key, begins when it is).
    public func connectTransport(_ key: PoolKey, timeout: TimeAmount) -> EventLoopFuture<Transport> {
        var tls: (context: NIOSSLContext, role: TLSTransport.Role)?
        if let settings = key.tls {
            do {
                tls = (
                    try tlsContexts.context(verify: settings.verify, trust: settings.trust, identity: settings.identity, http2: key.http2),
                    .client(serverName: settings.serverName))
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
        let loop = eventLoop
        let connected = HostResolver.connect(host: key.host, port: key.port, on: loop, timeout: timeout)
        return connected.assumeIsolated().flatMapThrowing { [tls] fd in
            try Transport.over(TCPConnection(fd: fd, loop: loop), tls: tls)
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
        let cutoff = NIODeadline.now() - limits.idleTimeout
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
