import ArgusApp
import Foundation
import NIOConcurrencyHelpers
import Testing

private func httpLogYAML(backend: Int, receiver: Int, config: String) -> String {
    """
    _format_version: "3.0"
    services:
      - name: web
        url: http://127.0.0.1:\(backend)
        routes: [{name: all, paths: ["/"]}]
    plugins:
      - name: http-log
        id: 7f0c5d1e-0000-4000-8000-00000000a001
        config: {http_endpoint: "http://user:pa%20ss@127.0.0.1:\(receiver)/logs", \(config)}
    """
}

/// Sends `count` requests and returns their request ids in order.
private func send(_ gw: GatewayHarness, _ count: Int) async throws -> [String] {
    var ids: [String] = []
    for _ in 0..<count {
        let response = try #require(try await gw.request("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"))
        ids.append(response.header("X-Kong-Request-Id") ?? "")
    }
    return ids
}

@Suite("http-log", .serialized)
struct HTTPLogTests {
    @Test(.timeLimit(.minutes(1)))
    func deliversEveryRecordOnceInBatchesWithKongsHeaders() async throws {
        let backend = RawBackend.ok(body: "x")
        let port = try await backend.start()
        let receiver = LogReceiver()
        let receiverPort = try await receiver.start()
        let gw = try await GatewayHarness(yaml: httpLogYAML(backend: port, receiver: receiverPort, config: """
            headers: {X-Custom: hello}, queue: {max_batch_size: 10, max_coalescing_delay: 0.05}
            """))
        let sent = try await send(gw, 45)
        #expect(await receiver.waitFor(45))
        await gw.stop()
        #expect(receiver.ids == sent)
        let posts = receiver.posts
        #expect(posts.allSatisfy { $0.wasArray })
        #expect(posts.contains { $0.count > 1 })
        #expect(posts.allSatisfy { $0.headers["content-type"] == "application/json" })
        #expect(posts.allSatisfy { $0.headers["authorization"] == "Basic " + Data("user:pa ss".utf8).base64EncodedString() })
        #expect(posts.allSatisfy { $0.headers["x-custom"] == "hello" })
        let first = try #require(receiver.records.first)
        #expect((first["route"] as? [String: Any])?["name"] as? String == "all")
        await receiver.shutdown()
        await backend.stop()
    }

    /// Kong's `01-log_spec.lua` "PATCH config.headers": a changed instance's records go with its
    /// new config from the next request on; a changed endpoint receives them.
    @Test(.timeLimit(.minutes(1)))
    func aChangedInstanceSendsWithItsNewConfig() async throws {
        let backend = RawBackend.ok(body: "x")
        let port = try await backend.start()
        let first = LogReceiver(), second = LogReceiver()
        let firstPort = try await first.start(), secondPort = try await second.start()
        let gw = try await GatewayHarness(yaml: httpLogYAML(backend: port, receiver: firstPort, config: "headers: {X-Custom: value1}"))
        _ = try await send(gw, 1)
        #expect(await first.waitFor(1))
        try httpLogYAML(backend: port, receiver: firstPort, config: "headers: {X-Custom: value2}").write(toFile: gw.configPath, atomically: true, encoding: .utf8)
        #expect(gw.gateway.reload())
        _ = try await send(gw, 1)
        #expect(await first.waitFor(2))
        #expect(first.posts.map { $0.headers["x-custom"] } == ["value1", "value2"])
        try httpLogYAML(backend: port, receiver: secondPort, config: "headers: {X-Custom: value3}").write(toFile: gw.configPath, atomically: true, encoding: .utf8)
        #expect(gw.gateway.reload())
        let moved = try await send(gw, 1)
        #expect(await second.waitFor(1))
        #expect(second.ids == moved && second.posts.first?.headers["x-custom"] == "value3")
        await gw.stop()
        await first.shutdown()
        await second.shutdown()
        await backend.stop()
    }

    @Test(.timeLimit(.minutes(1)))
    func oneObjectPerPostWhenTheBatchSizeIsOneAndGzipWhenAsked() async throws {
        let backend = RawBackend.ok(body: "x")
        let port = try await backend.start()
        let receiver = LogReceiver()
        let receiverPort = try await receiver.start()
        let gw = try await GatewayHarness(yaml: httpLogYAML(backend: port, receiver: receiverPort, config: "gzip: true"))
        let sent = try await send(gw, 5)
        #expect(await receiver.waitFor(5))
        await gw.stop()
        #expect(receiver.ids == sent)
        #expect(receiver.posts.allSatisfy { !$0.wasArray && $0.count == 1 && $0.headers["content-encoding"] == "gzip" })
        await receiver.shutdown()
        await backend.stop()
    }

    @Test(.timeLimit(.minutes(1)))
    func anOutageLosesNothingAndKeepsTheOrder() async throws {
        let backend = RawBackend.ok(body: "x")
        let port = try await backend.start()
        let receiver = LogReceiver()
        let receiverPort = try receiver.reservePort()  // down: connections are refused
        let gw = try await GatewayHarness(yaml: httpLogYAML(backend: port, receiver: receiverPort, config: """
            queue: {max_batch_size: 5, max_coalescing_delay: 0.01, initial_retry_delay: 0.05, max_retry_delay: 0.2}
            """))
        var sent = try await send(gw, 30)
        try await Task.sleep(for: .milliseconds(500))
        // Errors answered with 500 are retried too.
        receiver.status.withLockedValue { $0 = 500 }
        try await receiver.start()
        sent += try await send(gw, 10)
        try await Task.sleep(for: .milliseconds(300))
        #expect(receiver.ids.isEmpty)
        receiver.status.withLockedValue { $0 = 200 }
        #expect(await receiver.waitFor(40))
        sent += try await send(gw, 10)
        #expect(await receiver.waitFor(50))
        await gw.stop()
        #expect(receiver.ids == sent)
        await receiver.shutdown()
        await backend.stop()
    }

    @Test(.timeLimit(.minutes(1)))
    func aRestartDuringAnOutageReplaysTheSpool() async throws {
        let backend = RawBackend.ok(body: "x")
        let port = try await backend.start()
        let receiver = LogReceiver()
        let receiverPort = try receiver.reservePort()
        let data = NSTemporaryDirectory() + "argus-spool-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let yaml = httpLogYAML(backend: port, receiver: receiverPort, config: "queue: {initial_retry_delay: 0.05, max_retry_delay: 0.2}")
        let first = try await GatewayHarness(yaml: yaml) { $0.dataDirectory = data }
        let sent = try await send(first, 20)
        await first.stop()
        let spool = data + "/spool/http-log/7f0c5d1e-0000-4000-8000-00000000a001"
        #expect(FileManager.default.fileExists(atPath: spool))
        try await receiver.start()
        let second = try await GatewayHarness(yaml: yaml) { $0.dataDirectory = data }
        #expect(await receiver.waitFor(20))
        await second.stop()
        #expect(receiver.ids == sent)
        await receiver.shutdown()
        await backend.stop()
    }

    @Test(.timeLimit(.minutes(1)))
    func aFullSpoolDropsAndCountsButNeverBlocksTheProxy() async throws {
        let backend = RawBackend.ok(body: "x")
        let port = try await backend.start()
        let receiver = LogReceiver()
        let receiverPort = try receiver.reservePort()
        let gw = try await GatewayHarness(yaml: httpLogYAML(backend: port, receiver: receiverPort, config: """
            spool_max_bytes: 6000, queue: {initial_retry_delay: 0.05, max_retry_delay: 0.1}
            """))
        let sent = try await send(gw, 30)
        try await Task.sleep(for: .milliseconds(300))
        let metrics = try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort)).bodyString
        func value(_ outcome: String) -> Double {
            metrics.split(separator: "\n").first { $0.hasPrefix("argus_log_records_total{sink=\"http-log\",instance=\"7f0c5d1e") && $0.contains("outcome=\"\(outcome)\"") }
                .flatMap { Double($0.split(separator: " ").last!) } ?? -1
        }
        let dropped = value("dropped")
        #expect(dropped > 0)
        try await receiver.start()
        #expect(await receiver.waitFor(30 - Int(dropped)))
        try await Task.sleep(for: .milliseconds(200))
        await gw.stop()
        #expect(receiver.ids.count + Int(dropped) == sent.count)
        #expect(Set(receiver.ids).isSubset(of: Set(sent)))
        await receiver.shutdown()
        await backend.stop()
    }
}
