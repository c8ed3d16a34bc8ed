import ArgusLoop
import ArgusTransport
import NIOCore

/// The HTTP/2 connections to `grpc`/`grpcs` upstream targets, one pool per event loop (as
/// ``UpstreamPool`` for HTTP/1.1): a request takes a stream of a connection to its target that
/// has room for one, else a new connection is made; requests that arrive while it connects wait
/// for the same connection rather than each making one. A stream serves one exchange.
public final class HTTP2UpstreamPool {
    private let connections: UpstreamPool
    private let limits: HTTP2ClientSession.Limits
    public let counters: HTTP2UpstreamCounters
    private var sessions: [PoolKey: [HTTP2ClientSession]] = [:]
    private var connecting: [PoolKey: EventLoopFuture<HTTP2ClientSession>] = [:]

    /// - Parameter connections: the loop's HTTP/1.1 pool, which makes the connections (name
    ///   resolution, connect timeout, TLS with `h2` by ALPN).
    public init(connections: UpstreamPool, limits: HTTP2ClientSession.Limits, counters: HTTP2UpstreamCounters) {
        self.connections = connections
        self.limits = limits
        self.counters = counters
    }

    /// A stream to `key`'s target, as the connection an exchange writes its request to.
    public func connect(_ key: PoolKey, timeout: TimeAmount, loop: IOLoop) -> EventLoopFuture<UpstreamConnection> {
        if let session = sessions[key]?.first(where: \.canOpenStream) {
            do {
                return loop.assumeIsolated().makeSucceededFuture(try exchange(on: session))
            } catch {
                return loop.makeFailedFuture(error)
            }
        }
        let session: EventLoopFuture<HTTP2ClientSession>
        if let pending = connecting[key] {
            session = pending
        } else {
            session = connections.connectTransport(key, timeout: timeout).assumeIsolated().flatMapThrowing { transport in
                try HTTP2ClientSession(key: key, transport: transport, limits: self.limits, counters: self.counters)
            }.nonisolated()
            connecting[key] = session
            session.assumeIsolated().whenComplete { result in
                self.connecting[key] = nil
                if case .success(let session) = result { self.add(session) }
            }
        }
        return session.assumeIsolated().flatMapThrowing { session in
            // (a connection full already, by the time it is up: another one)
            guard session.canOpenStream || session.isClosed else { throw HTTP2ConnectionClosed() }
            return try self.exchange(on: session)
        }.nonisolated()
    }

    private func exchange(on session: HTTP2ClientSession) throws -> UpstreamConnection {
        guard let stream = session.openStream() else { throw HTTP2ConnectionClosed() }
        return try UpstreamConnection(key: session.key, transport: .stream(stream))
    }

    private func add(_ session: HTTP2ClientSession) {
        sessions[session.key, default: []].append(session)
        session.onClose = { [unowned self] closed in
            guard var list = self.sessions[closed.key] else { return }
            list.removeAll { $0 === closed }
            self.sessions[closed.key] = list.isEmpty ? nil : list
        }
    }

    /// Connections open now.
    public var openCount: Int { sessions.values.reduce(0) { $0 + $1.count } }

    /// Closes every connection (shutdown).
    public func closeAll() {
        let all = sessions.values.flatMap { $0 }
        sessions.removeAll()
        for session in all { session.close() }
    }
}

@available(*, unavailable)
extension HTTP2UpstreamPool: Sendable {}
