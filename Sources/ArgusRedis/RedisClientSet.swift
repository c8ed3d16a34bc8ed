import Logging
import NIOCore

/// The Redis clients of one event loop, one per endpoint, created on first use.
public final class RedisClientSet: Sendable {
    public let eventLoop: any EventLoop
    private let logger: Logger
    private let clients: NIOLoopBoundBox<[RedisEndpoint: RedisClient]>

    public init(eventLoop: any EventLoop, logger: Logger = Logger(label: "argus.redis")) {
        self.eventLoop = eventLoop
        self.logger = logger
        clients = NIOLoopBoundBox.makeBoxSendingValue([:], eventLoop: eventLoop)
    }

    /// The client for `endpoint`; must be called on ``eventLoop``.
    public func client(_ endpoint: RedisEndpoint) -> RedisClient {
        if let client = clients.value[endpoint] { return client }
        let client = RedisClient(endpoint: endpoint, eventLoop: eventLoop, logger: logger)
        clients.value[endpoint] = client
        return client
    }

    /// Closes every connection; must be called on ``eventLoop``.
    public func closeAll() {
        for client in clients.value.values { client.close() }
        clients.value = [:]
    }

    /// Closes every connection, from anywhere.
    public func close() async {
        try? await eventLoop.submit { self.closeAll() }.get()
    }
}
