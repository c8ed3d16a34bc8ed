import ArgusLoop
import ArgusTransport
import Crypto
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// A Redis client for one event loop: a small pool of pipelined connections to one endpoint,
/// opened on demand, authenticated (`AUTH`) and on the configured database (`SELECT`).
///
/// A command goes to the open connection with the fewest replies outstanding; another connection
/// is opened (up to ``RedisEndpoint/poolSize``) only when every open one already has a deep
/// pipeline. When connecting fails, commands fail at once (no waiting on a dead server) for a
/// short pause (``retryPause``); the next command after it tries again, on demand, so a command
/// succeeds as soon as the server answers again (Kong connects per request; one attempt at a
/// time is made here, the commands arriving meanwhile wait for it). Every method must be called on ``eventLoop``: an ``IOLoop`` (a proxy worker's; the
/// connections are its own, so a command and its reply never leave the thread) or a SwiftNIO loop.
public final class RedisClient {
    public let endpoint: RedisEndpoint
    public let eventLoop: any EventLoop
    private let logger: Logger
    private var connections: [RedisConnection] = []
    private var opening = 0
    /// Commands waiting for a connection being opened.
    private var waiting: [(command: ByteBuffer, promise: EventLoopPromise<RESPValue>)] = []
    private var retryAt = NIODeadline.uptimeNanoseconds(0)
    /// After a failed connect, commands fail at once for this long: at most a few attempts a
    /// second against a dead server, and recovery within this long of its return.
    public static let retryPause = TimeAmount.milliseconds(50)
    private var lastFailure = ""
    private var closed = false
    /// Commands that failed (timeouts, closed connections, unavailable server); for metrics.
    public private(set) var failures = 0

    /// A pipeline this deep on every open connection is a reason to open another one.
    static let deepPipeline = 16

    public init(endpoint: RedisEndpoint, eventLoop: any EventLoop, logger: Logger = Logger(label: "argus.redis")) {
        self.endpoint = endpoint
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Sends one command (its arguments as strings) and returns its reply. An error reply fails
    /// the future with ``RedisError/server(_:)``.
    public func send(_ arguments: [String]) -> EventLoopFuture<RESPValue> {
        send(encoded: RESPCommand.encode(arguments)).flatMapThrowing { reply in
            if case .error(let message) = reply { throw RedisError.server(message) }
            return reply
        }
    }

    /// Runs a Lua script by its SHA1 (`EVALSHA`), loading it with `EVAL` when the server does not
    /// have it yet (after a restart or a `SCRIPT FLUSH`).
    public func evalScript(_ script: RedisScript, keys: [String], arguments: [String]) -> EventLoopFuture<RESPValue> {
        let tail = [String(keys.count)] + keys + arguments
        return send(["EVALSHA", script.sha1] + tail).assumeIsolated().flatMapError { error in
            if case RedisError.server(let message) = error, message.hasPrefix("NOSCRIPT") {
                return self.send(["EVAL", script.source] + tail)
            }
            return self.eventLoop.makeFailedFuture(error)
        }.nonisolated()
    }

    /// Closes every connection; later commands fail.
    public func close() {
        closed = true
        for c in connections { c.close() }
        connections.removeAll()
        let pendingWaiters = waiting
        waiting.removeAll()
        for w in pendingWaiters { w.promise.fail(RedisError.connectionClosed) }
    }

    /// Open connections (for tests and metrics).
    public var openConnections: Int { connections.filter(\.isOpen).count }

    // MARK: - Pool

    private func send(encoded command: ByteBuffer) -> EventLoopFuture<RESPValue> {
        eventLoop.preconditionInEventLoop()
        guard !closed else { return eventLoop.makeFailedFuture(RedisError.connectionClosed) }
        connections.removeAll { !$0.isOpen }
        let best = connections.min { $0.inFlight < $1.inFlight }
        if let best, best.inFlight < Self.deepPipeline || connections.count + opening >= endpoint.poolSize {
            return counted(best.send(command))
        }
        if best == nil && opening == 0 && NIODeadline.now() < retryAt {
            failures += 1
            return eventLoop.makeFailedFuture(RedisError.unavailable(lastFailure))
        }
        if let best, NIODeadline.now() < retryAt { return counted(best.send(command)) }
        let promise = eventLoop.makePromise(of: RESPValue.self)
        waiting.append((command, promise))
        if opening == 0 { open() }
        return counted(promise.futureResult)
    }

    private func counted(_ future: EventLoopFuture<RESPValue>) -> EventLoopFuture<RESPValue> {
        future.assumeIsolated().whenFailure { [self] _ in failures += 1 }
        return future
    }

    private func open() {
        opening += 1
        let endpoint = self.endpoint
        let timeout = TimeAmount.milliseconds(Int64(max(1, endpoint.timeoutMilliseconds)))
        let connectTimeout = TimeAmount.milliseconds(Int64(max(1, endpoint.connectTimeoutMilliseconds ?? endpoint.timeoutMilliseconds)))
        let connection = RedisConnection(eventLoop: eventLoop, timeout: timeout)
        var tls: NIOSSLContext?
        if endpoint.tls {
            do {
                tls = try TLSClientContexts.shared.context(verify: endpoint.tlsVerify, trust: nil)
            } catch {
                opened(connection, .failure(error))
                return
            }
        }
        let serverName = endpoint.serverName ?? endpoint.host
        let sni = (try? SocketAddress(ipAddress: serverName, port: 0)) == nil ? serverName : nil
        let connected: EventLoopFuture<Void>
        if let loop = eventLoop as? IOLoop {
            connected = openStream(connection, on: loop, tls: tls.map { (context: $0, role: .client(serverName: sni)) }, timeout: connectTimeout)
        } else {
            connected = openChannel(connection, tls: tls, serverName: sni, timeout: connectTimeout)
        }
        connected.assumeIsolated()
            .flatMap { self.handshake(connection) }
            .whenComplete { result in self.opened(connection, result) }
    }

    /// A connection on Argus's own loop (a proxy worker's): no thread between the request and Redis.
    private func openStream(
        _ connection: RedisConnection, on loop: IOLoop, tls: (context: NIOSSLContext, role: TLSTransport.Role)?, timeout: TimeAmount
    ) -> EventLoopFuture<Void> {
        HostResolver.connect(host: endpoint.host, port: endpoint.port, on: loop, timeout: timeout)
            .assumeIsolated().flatMapThrowing { fd in
                let transport = try Transport.over(TCPConnection(fd: fd, loop: loop), tls: tls)
                connection.attach(.stream(transport))
                transport.setDelegate(connection)
                do {
                    try transport.start()
                } catch {
                    transport.close()
                    throw error
                }
            }.nonisolated()
    }

    /// A connection on a SwiftNIO loop (the control plane's).
    private func openChannel(_ connection: RedisConnection, tls: NIOSSLContext?, serverName: String?, timeout: TimeAmount) -> EventLoopFuture<Void> {
        let bound = NIOLoopBound(RedisChannelHandler(connection), eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName)) }
                    try sync.addHandler(bound.value)
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .assumeIsolated().map { channel in connection.attach(.channel(channel)) }.nonisolated()
    }

    private func opened(_ connection: RedisConnection, _ result: Result<Void, any Error>) {
        opening -= 1
        let queued = waiting
        waiting.removeAll()
        switch result {
        case .success:
            if !lastFailure.isEmpty {
                logger.notice("redis connection restored", metadata: ["endpoint": "\(endpoint)"])
                lastFailure = ""
            }
            retryAt = .uptimeNanoseconds(0)
            if closed {
                connection.close()
                for w in queued { w.promise.fail(RedisError.connectionClosed) }
                return
            }
            connections.append(connection)
            for w in queued { connection.send(w.command).cascade(to: w.promise) }
        case .failure(let error):
            connection.close()
            // Logged when the endpoint starts failing; retries while it stays down are quiet.
            if lastFailure.isEmpty {
                logger.warning("redis connection failed", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            }
            lastFailure = "\(endpoint): \(error)"
            retryAt = .now() + Self.retryPause
            for w in queued { w.promise.fail(RedisError.unavailable(lastFailure)) }
        }
    }

    /// `AUTH` and `SELECT`, pipelined, before the connection joins the pool.
    private func handshake(_ connection: RedisConnection) -> EventLoopFuture<Void> {
        var list: [[String]] = []
        if let password = endpoint.password, !password.isEmpty {
            if let username = endpoint.username, !username.isEmpty {
                list.append(["AUTH", username, password])
            } else {
                list.append(["AUTH", password])
            }
        }
        if endpoint.database != 0 { list.append(["SELECT", String(endpoint.database)]) }
        let commands = list
        guard !commands.isEmpty else { return eventLoop.makeSucceededVoidFuture() }
        let replies = commands.map { connection.send(RESPCommand.encode($0)) }
        return EventLoopFuture.whenAllSucceed(replies, on: eventLoop).assumeIsolated().flatMapThrowing { values in
            for (command, value) in zip(commands, values) {
                if case .error(let message) = value {
                    connection.close()
                    throw RedisError.server("\(command[0]) failed: \(message)")
                }
            }
        }.nonisolated()
    }
}

@available(*, unavailable)
extension RedisClient: Sendable {}

/// A Lua script and its SHA1, for `EVALSHA`.
public struct RedisScript: Sendable {
    public let source: String
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
        }.joined()
    }
}
