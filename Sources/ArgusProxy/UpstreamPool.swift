import NIOCore
import NIOPosix

/// Where an upstream connection goes: a resolved target.
struct PoolKey: Hashable, Sendable {
    var host: String
    var port: Int
}

/// Idle keep-alive connections to upstream targets, one pool per event loop, so that a client
/// connection and its upstream connection share a thread and no lock is ever taken.
final class UpstreamPool {
    private let eventLoop: any EventLoop
    private let settings: ProxySettings
    private var idle: [PoolKey: [UpstreamHandler]] = [:]
    private var sweeper: Scheduled<Void>?

    init(eventLoop: any EventLoop, settings: ProxySettings) {
        self.eventLoop = eventLoop
        self.settings = settings
    }

    /// An idle, open connection to `key`, if there is one.
    func take(_ key: PoolKey) -> UpstreamHandler? {
        while let handler = idle[key]?.popLast() {
            if handler.isActive { return handler }
        }
        return nil
    }

    func release(_ handler: UpstreamHandler) {
        guard handler.requestsServed < settings.upstreamMaxRequestsPerConnection,
            idle[handler.key, default: []].count < settings.upstreamPoolSizePerTarget
        else {
            handler.abort()
            return
        }
        handler.idleSince = .now()
        idle[handler.key, default: []].append(handler)
        startSweeperIfNeeded()
    }

    func remove(_ handler: UpstreamHandler) {
        guard var list = idle[handler.key], let i = list.firstIndex(where: { $0 === handler }) else { return }
        list.remove(at: i)
        idle[handler.key] = list
    }

    var idleCount: Int { idle.values.reduce(0) { $0 + $1.count } }

    /// Closes every idle connection (shutdown).
    func closeAll() {
        let all = idle.values.flatMap { $0 }
        idle.removeAll()
        for handler in all { handler.abort() }
        sweeper?.cancel()
        sweeper = nil
    }

    /// Connects a new connection to `key` on this pool's event loop.
    func connect(_ key: PoolKey, timeout: TimeAmount) -> EventLoopFuture<UpstreamHandler> {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(key: key))
                }
            }
        let connected: EventLoopFuture<any Channel>
        if let address = try? SocketAddress(ipAddress: key.host, port: key.port) {
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: key.host, port: key.port)
        }
        return connected.assumeIsolated().flatMapThrowing { channel in
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            handler.pool = self
            return handler
        }.nonisolated()
    }

    /// Checks idle connections once a second while there are any.
    private func startSweeperIfNeeded() {
        guard sweeper == nil else { return }
        sweeper = eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [weak self] in
            guard let self else { return }
            self.sweeper = nil
            self.sweep()
            if self.idleCount > 0 { self.startSweeperIfNeeded() }
        }
    }

    private func sweep() {
        let cutoff = NIODeadline.now() - settings.upstreamIdleTimeout
        for (key, list) in idle {
            let (keep, expired) = list.reduce(into: ([UpstreamHandler](), [UpstreamHandler]())) { acc, handler in
                if handler.idleSince < cutoff || !handler.isActive { acc.1.append(handler) } else { acc.0.append(handler) }
            }
            if !expired.isEmpty {
                idle[key] = keep
                for handler in expired { handler.abort() }
            }
        }
    }
}

@available(*, unavailable)
extension UpstreamPool: Sendable {}
