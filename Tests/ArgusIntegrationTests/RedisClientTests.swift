import ArgusLoop
import ArgusRedis
import Foundation
import NIOCore
import NIOPosix
import Testing

/// Which kind of loop a client runs on: a proxy worker's (Argus's own) or the control plane's (SwiftNIO's).
enum RedisLoopKind: String, CaseIterable, Sendable {
    case argus, nio
}

/// A RedisClient on its own event loop, driven from tests.
final class LoopRedisClient: Sendable {
    private let loop: any EventLoop
    private let group: MultiThreadedEventLoopGroup?
    private let client: NIOLoopBound<RedisClient>

    init(_ endpoint: RedisEndpoint, on kind: RedisLoopKind = .argus) throws {
        switch kind {
        case .argus:
            group = nil
            loop = IOLoop(name: "redis-test")
        case .nio:
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            self.group = group
            loop = group.next()
        }
        let loop = self.loop
        client = try loop.submit { NIOLoopBound(RedisClient(endpoint: endpoint, eventLoop: loop), eventLoop: loop) }.wait()
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (RedisClient) -> EventLoopFuture<T>) async throws -> T {
        let client = self.client
        return try await loop.flatSubmit { body(client.value) }.get()
    }

    func send(_ arguments: [String]) async throws -> RESPValue {
        try await run { $0.send(arguments) }
    }

    func shutdown() async {
        let client = self.client
        try? await loop.submit { client.value.close() }.get()
        if let group {
            try? await group.shutdownGracefully()
        } else if let loop = loop as? IOLoop {
            try? await loop.shutdownGracefully()
        }
    }
}

@Suite("RedisClient against a real redis-server", .enabled(if: RedisServer.available))
struct RedisClientTests {
    @Test(arguments: RedisLoopKind.allCases) func commandsPipelineAndReplyInOrder(on kind: RedisLoopKind) async throws {
        let server = try RedisServer()
        defer { server.stop() }
        let redis = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port, poolSize: 2), on: kind)
        defer { Task { await redis.shutdown() } }

        #expect(try await redis.send(["PING"]) == .simpleString("PONG"))
        #expect(try await redis.send(["SET", "k", "välue"]) == .simpleString("OK"))
        #expect(try await redis.send(["GET", "k"]).string == "välue")
        #expect(try await redis.send(["GET", "missing"]) == .bulkString(nil))
        // 2,000 INCRs written back to back (pipelined) from the loop: each gets its own reply
        // (ordered per connection; the pool may spread them over two).
        let replies = try await redis.run { client in
            let futures = (0..<2000).map { _ in client.send(["INCR", "n"]) }
            return EventLoopFuture.whenAllSucceed(futures, on: client.eventLoop)
        }
        let values = replies.compactMap(\.int)
        #expect(values.count == 2000)
        #expect(values.sorted() == Array(1...2000), "every INCR answered exactly once")
        #expect(try await redis.run { client in client.eventLoop.makeSucceededFuture(client.openConnections) } <= 2)
        await #expect(throws: RedisError.self) { try await redis.send(["NOSUCHCOMMAND"]) }
    }

    @Test(arguments: RedisLoopKind.allCases) func scriptsRunByDigestAndReloadAfterAFlush(on kind: RedisLoopKind) async throws {
        let server = try RedisServer()
        defer { server.stop() }
        let redis = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port), on: kind)
        defer { Task { await redis.shutdown() } }
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try await redis.run { $0.evalScript(script, keys: ["s"], arguments: ["5"]) }.int == 5)
        #expect(try await redis.run { $0.evalScript(script, keys: ["s"], arguments: ["5"]) }.int == 10)
        _ = try await redis.send(["SCRIPT", "FLUSH"])
        #expect(try await redis.run { $0.evalScript(script, keys: ["s"], arguments: ["1"]) }.int == 11)
    }

    @Test(arguments: RedisLoopKind.allCases) func authenticatesAndSelectsTheDatabase(on kind: RedisLoopKind) async throws {
        let server = try RedisServer(password: "s3cret")
        defer { server.stop() }
        let redis = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port, password: "s3cret", database: 3), on: kind)
        defer { Task { await redis.shutdown() } }
        _ = try await redis.send(["SET", "in3", "yes"])
        let plain = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port, password: "s3cret"), on: kind)
        defer { Task { await plain.shutdown() } }
        #expect(try await plain.send(["GET", "in3"]) == .bulkString(nil))
        _ = try await plain.send(["SELECT", "3"])
        #expect(try await plain.send(["GET", "in3"]).string == "yes")

        let wrong = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port, password: "nope"), on: kind)
        defer { Task { await wrong.shutdown() } }
        await #expect(throws: RedisError.self) { try await wrong.send(["PING"]) }
    }

    @Test(arguments: RedisLoopKind.allCases) func timesOutThenRecoversOnANewConnection(on kind: RedisLoopKind) async throws {
        let server = try RedisServer()
        defer { server.stop() }
        let redis = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port, timeoutMilliseconds: 200), on: kind)
        defer { Task { await redis.shutdown() } }
        await #expect(throws: RedisError.timeout) { try await redis.send(["DEBUG", "SLEEP", "1"]) }
        try await Task.sleep(for: .milliseconds(1200))
        #expect(try await redis.send(["PING"]) == .simpleString("PONG"))
    }

    /// A dead server fails commands fast (no waiting on every request), and the client comes back
    /// by itself once the server does.
    @Test(arguments: RedisLoopKind.allCases) func failsFastWhileDownAndReconnectsAfter(on kind: RedisLoopKind) async throws {
        let server = try RedisServer()
        defer { server.stop() }
        let redis = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port, timeoutMilliseconds: 500), on: kind)
        defer { Task { await redis.shutdown() } }
        #expect(try await redis.send(["PING"]) == .simpleString("PONG"))
        server.kill()
        await #expect(throws: RedisError.self) { try await redis.send(["PING"]) }
        await #expect(throws: RedisError.self) { try await redis.send(["PING"]) }
        let started = Date()
        for _ in 0..<100 { _ = try? await redis.send(["PING"]) }
        // Waiting on every command would take 100 × the 500 ms timeout: 50 s. Failing fast takes a
        // few back-off connects; the bound is loose because the suite runs everything at once on
        // two cores (each command is two thread hops from the test).
        #expect(Date().timeIntervalSince(started) < 25, "commands against a dead server must fail fast")
        try server.start()
        var back = false
        for _ in 0..<100 where !back {
            back = (try? await redis.send(["PING"])) == .simpleString("PONG")
            if !back { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(back)
    }

    /// Kong connects per request: once the server is back, the next command (after the short
    /// pause) reconnects and succeeds; no worker waits out a back-off.
    @Test(arguments: RedisLoopKind.allCases) func reconnectsOnDemandOnceTheServerIsBack(on kind: RedisLoopKind) async throws {
        let server = try RedisServer()
        defer { server.stop() }
        let redis = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port, timeoutMilliseconds: 500), on: kind)
        defer { Task { await redis.shutdown() } }
        #expect(try await redis.send(["PING"]) == .simpleString("PONG"))
        server.kill()
        // many failures in a row: a doubling back-off would have grown to seconds by now
        for _ in 0..<30 {
            _ = try? await redis.send(["PING"])
            try await Task.sleep(for: .milliseconds(60))
        }
        try server.start()
        try await Task.sleep(for: .milliseconds(120))
        #expect(try await redis.send(["PING"]) == .simpleString("PONG"), "the first command after the server's return succeeds")
    }

    /// `ssl: true`: TLS to a TLS-only redis-server; `ssl_verify: true` refuses its self-signed certificate.
    @Test(arguments: RedisLoopKind.allCases) func speaksTLS(on kind: RedisLoopKind) async throws {
        let server = try RedisServer(tls: true)
        defer { server.stop() }
        let redis = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port, tls: true, serverName: "localhost"), on: kind)
        defer { Task { await redis.shutdown() } }
        #expect(try await redis.send(["PING"]) == .simpleString("PONG"))
        #expect(try await redis.send(["SET", "t", "1"]) == .simpleString("OK"))

        let verifying = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port, tls: true, tlsVerify: true, serverName: "localhost"), on: kind)
        defer { Task { await verifying.shutdown() } }
        await #expect(throws: RedisError.self) { try await verifying.send(["PING"]) }

        let plain = try LoopRedisClient(RedisEndpoint(host: "127.0.0.1", port: server.port, timeoutMilliseconds: 500), on: kind)
        defer { Task { await plain.shutdown() } }
        await #expect(throws: RedisError.self) { try await plain.send(["PING"]) }
    }
}
