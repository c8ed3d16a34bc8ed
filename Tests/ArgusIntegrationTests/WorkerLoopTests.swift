import ArgusApp
import Foundation
import Testing

@testable import ArgusProxy
import ArgusTransport

@Suite("Several proxy loops, names resolved for upstreams")
struct WorkerLoopTests {
    @Test func connectionsAreSpreadOverEveryWorkerLoopAndAllServed() async throws {
        let backend = RawBackend.ok(body: "hello")
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port)) { $0.workers = 3 }
        defer { Task { await gw.stop(); await backend.stop() } }

        // 9 keep-alive connections at once, 3 requests each.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in 0..<9 {
                group.addTask {
                    let client = try await RawClient(port: gw.proxyPort)
                    for r in 0..<3 {
                        try await client.send("GET /c\(c)/r\(r) HTTP/1.1\r\nHost: x\r\n\r\n")
                        let response = try #require(try await client.readResponse())
                        #expect(response.status == 200)
                        #expect(response.bodyString == "hello")
                    }
                    await client.close()
                }
            }
            try await group.waitForAll()
        }
        let loops = gw.gateway.proxyStats.loops
        #expect(loops.count == 3)
        // Handed out in turn: every loop took three of the nine connections.
        #expect(loops.map(\.connectionsAccepted) == [3, 3, 3])
        #expect(loops.reduce(0) { $0 + $1.totalRequests } == 27)
        #expect(backend.requests.count == 27)
    }

    @Test func aServiceHostNameIsResolvedAndItsAddressesTried() async throws {
        let backend = RawBackend.ok(body: "by name")
        let port = try await backend.start()
        // `localhost` may resolve to ::1 first; the backend listens on 127.0.0.1 only, so the
        // connection must move on to the next address.
        let yaml = """
            _format_version: "3.0"
            services:
              - name: named
                url: http://localhost:\(port)
                routes:
                  - name: all
                    paths: ["/"]
            """
        let gw = try await GatewayHarness(yaml: yaml)
        defer { Task { await gw.stop(); await backend.stop() } }
        for _ in 0..<2 {
            let response = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(response.status == 200)
            #expect(response.bodyString == "by name")
        }
    }
}
