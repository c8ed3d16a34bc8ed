import ArgusApp
import ArgusConfig
import Foundation
import Testing

private func records(_ path: String) throws -> [[String: Any]] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return try text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }
}

@Suite("file-log")
struct FileLogTests {
    @Test(.timeLimit(.minutes(1)))
    func writesKongsRecordForEveryRequestItAppliesTo() async throws {
        let backend = RawBackend.ok(body: "hello")
        let port = try await backend.start()
        let refusing = RefusingPort()
        let directory = NSTemporaryDirectory() + "argus-filelog-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/access.log"
        let yaml = """
            _format_version: "3.0"
            services:
              - name: live
                url: http://127.0.0.1:\(port)/base
                routes: [{name: ok, paths: ["/ok"]}]
              - name: gone
                url: http://127.0.0.1:\(refusing.port)
                retries: 1
                routes: [{name: dead, paths: ["/dead"]}]
            plugins:
              - name: file-log
                config: {path: \(log)}
            """
        let gw = try await GatewayHarness(yaml: yaml)
        let ok = try #require(try await gw.request(
            "GET /ok/items?a=1&b&c=2&c=x%20y HTTP/1.1\r\nHost: shop.test:8000\r\nAuthorization: Bearer secret\r\nX-Trace: one\r\nx-TRACE: two\r\n\r\n"))
        #expect(ok.status == 200)
        #expect(try await gw.request("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")?.status == 404)
        #expect(try await gw.request("GET /dead HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 502)
        await gw.stop()
        await backend.stop()

        let lines = try records(log)
        #expect(lines.count == 3)
        guard lines.count == 3 else { return }
        let first = lines[0]
        let request = try #require(first["request"] as? [String: Any])
        #expect(request["id"] as? String == ok.header("X-Kong-Request-Id"))
        #expect(request["uri"] as? String == "/ok/items?a=1&b&c=2&c=x%20y")
        #expect(request["url"] as? String == "http://shop.test:\(gw.proxyPort)/ok/items?a=1&b&c=2&c=x%20y")
        #expect(request["method"] as? String == "GET")
        let query = try #require(request["querystring"] as? [String: Any])
        #expect(query["a"] as? String == "1")
        #expect(query["b"] as? Bool == true)
        #expect(query["c"] as? [String] == ["2", "x y"])
        let headers = try #require(request["headers"] as? [String: Any])
        #expect(headers["authorization"] as? String == "REDACTED")
        #expect(headers["x-trace"] as? [String] == ["one", "two"])
        #expect(headers["host"] as? String == "shop.test:8000")
        #expect((request["size"] as? Int ?? 0) > 50)
        #expect(first["upstream_uri"] as? String == "/base/items?a=1&b&c=2&c=x%20y")
        #expect(first["upstream_status"] as? String == "200")
        let response = try #require(first["response"] as? [String: Any])
        #expect(response["status"] as? Int == 200)
        #expect((response["headers"] as? [String: Any])?["x-kong-request-id"] as? String == ok.header("X-Kong-Request-Id"))
        let latencies = try #require(first["latencies"] as? [String: Int])
        #expect(Set(latencies.keys) == ["kong", "proxy", "request", "receive"])
        #expect((latencies["proxy"] ?? -1) >= 0)
        #expect(first["client_ip"] as? String == "127.0.0.1")
        let started = try #require(first["started_at"] as? Int)
        #expect(abs(Double(started) / 1000 - Date().timeIntervalSince1970) < 60)
        #expect(first["source"] as? String == "upstream")
        #expect((first["service"] as? [String: Any])?["name"] as? String == "live")
        #expect((first["route"] as? [String: Any])?["name"] as? String == "ok")
        #expect(first["workspace_name"] as? String == "default")
        let tries = try #require(first["tries"] as? [[String: Any]])
        #expect(tries.count == 1 && tries[0]["port"] as? Int == port && tries[0]["state"] == nil)

        // No route: a gateway answer, no service or route, no tries.
        let second = lines[1]
        #expect((second["response"] as? [String: Any])?["status"] as? Int == 404)
        #expect(second["source"] as? String == "kong" && second["service"] == nil && second["route"] == nil)
        #expect((second["latencies"] as? [String: Int])?["proxy"] == -1)

        // Two failed tries, then Kong's 502.
        let third = lines[2]
        #expect((third["response"] as? [String: Any])?["status"] as? Int == 502)
        let failed = try #require(third["tries"] as? [[String: Any]])
        #expect(failed.count == 2)
        #expect(failed.allSatisfy { $0["state"] as? String == "failed" && $0["code"] as? Int == 502 })
        withExtendedLifetime(refusing) {}
    }

    @Test(.timeLimit(.minutes(1)))
    func aRenamedFileIsReopenedWithNoLineLost() async throws {
        let backend = RawBackend.ok(body: "x")
        let port = try await backend.start()
        let directory = NSTemporaryDirectory() + "argus-filelog-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/access.log"
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port, extra: """
            plugins:
              - name: file-log
                config: {path: \(log)}
            """))
        var sent = 0
        for _ in 0..<30 { _ = try await gw.request("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"); sent += 1 }
        // logrotate's `create` mode: the file is renamed away; Argus notices within a second.
        try await Task.sleep(for: .milliseconds(200))
        try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
        let until = ContinuousClock.now + .milliseconds(1_500)
        while ContinuousClock.now < until {
            _ = try await gw.request("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            sent += 1
        }
        await gw.stop()
        await backend.stop()
        let rotated = try records(log + ".1").count, current = try records(log).count
        #expect(rotated + current == sent)
        #expect(current > 0)
        let mode = try FileManager.default.attributesOfItem(atPath: log)[.posixPermissions] as? Int
        #expect(mode == 0o640)
    }

    @Test func anUnwritablePathIsAnErrorWhenTheConfigIsLoaded() throws {
        for (path, message) in [("/nonexistent-dir/access.log", "directory '/nonexistent-dir' does not exist"),
                                ("\"/tmp/bad*name\"", "not a valid filename"), ("/tmp", "is a directory, not a file")] {
            let yaml = "_format_version: \"3.0\"\nplugins:\n  - name: file-log\n    config: {path: \(path)}\n"
            do {
                _ = try ConfigLoader.parse(text: yaml, file: "kong.yml")
                Issue.record("accepted \(path)")
            } catch {
                #expect(error.errors.map(\.description) == ["kong.yml: plugins[0].config.path: \(message)"])
            }
        }
    }
}
