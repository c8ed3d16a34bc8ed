import ArgusApp
import Foundation
import Testing
@testable import ArgusProxy
import ArgusTransport

@Suite("consistent-hashing and least-connections")
struct BalancingTests {
    static func yaml(_ ports: [Int], upstream: String) -> String {
        """
        _format_version: "3.0"
        services:
          - name: balanced
            host: pool
            routes: [{name: main, paths: ["/"]}]
        upstreams:
          - name: pool
            \(upstream)
            targets:
        \(ports.map { "      - {target: \"127.0.0.1:\($0)\"}" }.joined(separator: "\n"))
        """
    }

    static func backends(_ n: Int, delayMs: [Int] = []) async throws -> ([RawBackend], [Int]) {
        var list: [RawBackend] = [], ports: [Int] = []
        for i in 0..<n {
            let delay = i < delayMs.count ? delayMs[i] : 0
            let backend = RawBackend { _ in .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nX-Backend: \(i)\r\n\r\n\(i)", delayMs: delay) }
            ports.append(try await backend.start())
            list.append(backend)
        }
        return (list, ports)
    }

    @Test func sameKeySameTargetByHeaderAndCookie() async throws {
        let (backends, ports) = try await Self.backends(3)
        let gw = try await GatewayHarness(yaml: Self.yaml(ports, upstream: "algorithm: consistent-hashing\n    hash_on: header\n    hash_on_header: X-User\n    hash_fallback: ip"))
        defer { Task { await gw.stop(); for b in backends { await b.stop() } } }
        var seen: [String: Set<String>] = [:]
        for round in 0..<3 {
            for user in 0..<20 {
                let r = try #require(try await gw.request("GET /r\(round) HTTP/1.1\r\nHost: x\r\nX-User: user-\(user)\r\n\r\n"))
                seen["user-\(user)", default: []].insert(r.bodyString)
            }
        }
        #expect(seen.values.allSatisfy { $0.count == 1 }, "every user sticks to one target")
        #expect(Set(seen.values.flatMap { $0 }).count >= 2, "users spread over targets")
        // Without the header, the fallback (the client's address) decides: always the same target.
        var byIP = Set<String>()
        for _ in 0..<6 { byIP.insert(try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).bodyString) }
        #expect(byIP.count == 1)

        let cookie = try await GatewayHarness(yaml: Self.yaml(ports, upstream: "algorithm: consistent-hashing\n    hash_on: cookie\n    hash_on_cookie: sticky\n    hash_on_cookie_path: /app"))
        defer { Task { await cookie.stop() } }
        let first = try #require(try await cookie.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        let setCookie = try #require(first.header("Set-Cookie"))
        #expect(setCookie.hasPrefix("sticky=") && setCookie.hasSuffix("; Path=/app; SameSite=Lax; HttpOnly"))
        let value = String(setCookie.dropFirst("sticky=".count).prefix { $0 != ";" })
        var targets = Set<String>()
        for _ in 0..<6 {
            let r = try #require(try await cookie.request("GET / HTTP/1.1\r\nHost: x\r\nCookie: a=b; sticky=\(value)\r\n\r\n"))
            #expect(r.header("Set-Cookie") == nil)
            targets.insert(r.bodyString)
        }
        #expect(targets.count == 1 && targets.first == first.bodyString)
    }

    @Test func leastConnectionsPrefersTheLessBusyTarget() async throws {
        let (backends, ports) = try await Self.backends(2, delayMs: [400, 0])
        let gw = try await GatewayHarness(yaml: Self.yaml(ports, upstream: "algorithm: least-connections"))
        defer { Task { await gw.stop(); for b in backends { await b.stop() } } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let client = try await RawClient(port: gw.proxyPort)
                    for _ in 0..<10 {
                        try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                        _ = try await client.readResponse()
                    }
                    await client.close()
                }
            }
            try await group.waitForAll()
        }
        let slow = backends[0].requests.count, fast = backends[1].requests.count
        #expect(slow + fast == 40)
        // Round-robin would split 20/20; the slow target holds its tries longer, so it gets fewer.
        #expect(fast >= 2 * slow, "fast \(fast), slow \(slow)")
    }

    @Test func latencyPrefersTheFasterTarget() async throws {
        let (backends, ports) = try await Self.backends(2, delayMs: [60, 0])
        let gw = try await GatewayHarness(yaml: Self.yaml(ports, upstream: "algorithm: latency"))
        defer { Task { await gw.stop(); for b in backends { await b.stop() } } }
        let client = try await RawClient(port: gw.proxyPort)
        for _ in 0..<40 {
            try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await client.readResponse()
        }
        await client.close()
        let slow = backends[0].requests.count, fast = backends[1].requests.count
        #expect(slow + fast == 40)
        #expect(fast >= 35, "fast \(fast), slow \(slow)")
    }

    /// Blue-green: shifting the weights (a reload) takes effect at once, and no request fails.
    @Test func blueGreenShiftByWeights() async throws {
        let (backends, ports) = try await Self.backends(2)
        func config(_ blue: Int, _ green: Int) -> String {
            Self.yaml(ports, upstream: "algorithm: round-robin")
                .replacingOccurrences(of: "\(ports[0])\"}", with: "\(ports[0])\", weight: \(blue)}")
                .replacingOccurrences(of: "\(ports[1])\"}", with: "\(ports[1])\", weight: \(green)}")
        }
        let gw = try await GatewayHarness(yaml: config(100, 0))
        defer { Task { await gw.stop(); for b in backends { await b.stop() } } }
        let load = Task {
            var failures = 0
            let client = try await RawClient(port: gw.proxyPort)
            for _ in 0..<300 {
                try await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                if try await client.readResponse()?.status != 200 { failures += 1 }
            }
            await client.close()
            return failures
        }
        try await Task.sleep(for: .milliseconds(30))
        try config(0, 100).write(toFile: gw.configPath, atomically: true, encoding: .utf8)
        #expect(gw.gateway.reload())
        let green = backends[1].requests.count
        for _ in 0..<10 { #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.bodyString == "1") }
        #expect(backends[1].requests.count >= green + 10)
        #expect(try await load.value == 0)
    }
}
