import ArgusApp
import Foundation
import Testing

@Suite("Configuration reload")
struct ReloadTests {
    @Test func reloadsUnderLoadLoseNoRequest() async throws {
        let a = RawBackend.ok(body: "A")
        let b = RawBackend.ok(body: "B")
        let portA = try await a.start()
        let portB = try await b.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: portA))
        defer { Task { await gw.stop(); await a.stop(); await b.stop() } }

        // Four keep-alive clients send requests while the config flips between two backends.
        let proxyPort = gw.proxyPort
        let load = Task {
            try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let client = try await RawClient(port: proxyPort)
                        var statuses: [Int] = []
                        for i in 0..<150 {
                            try await client.send("GET /\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
                            statuses.append(try await client.readResponse()?.status ?? -1)
                        }
                        await client.close()
                        return statuses
                    }
                }
                var all: [Int] = []
                for try await statuses in group { all += statuses }
                return all
            }
        }
        for flip in 0..<10 {
            try GatewayHarness.yaml(port: flip % 2 == 0 ? portB : portA).write(toFile: gw.configPath, atomically: true, encoding: .utf8)
            #expect(gw.gateway.reload())
            try await Task.sleep(for: .milliseconds(20))
        }
        // An invalid file is rejected and the running configuration keeps serving.
        try "_format_version: \"3.0\"\nservices: [{name: broken}]\n".write(toFile: gw.configPath, atomically: true, encoding: .utf8)
        #expect(!gw.gateway.reload())
        let statuses = try await load.value
        #expect(statuses.count == 600)
        #expect(statuses.allSatisfy { $0 == 200 }, "non-200 during reloads: \(statuses.filter { $0 != 200 })")
        #expect(a.requests.count + b.requests.count == 600)
        #expect(b.requests.count > 0, "the reloads took effect while the load ran")
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200)
    }
}
