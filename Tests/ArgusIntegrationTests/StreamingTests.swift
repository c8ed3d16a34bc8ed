import NIOCore
import Testing

@Suite("Bodies stream both ways")
struct StreamingTests {
    @Test func contentLengthAndChunkedUploadsArriveWhole() async throws {
        let backend = RawBackend { _ in .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") }
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        let body = String(repeating: "x", count: 300_000)
        try await client.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(try await client.readResponse()?.status == 200)
        var chunked = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for size in [1, 100, 65536, 7] { chunked += String(size, radix: 16) + ";ext=1\r\n" + String(repeating: "y", count: size) + "\r\n" }
        chunked += "0\r\nTrailer-A: 1\r\n\r\n"
        try await client.send(chunked)
        #expect(try await client.readResponse()?.status == 200)
        await client.close()
        #expect(backend.bodySizes == [300_000, 1 + 100 + 65536 + 7])
        #expect(backend.requests[1].contains("Transfer-Encoding: chunked"))
    }

    @Test func expectContinueGets100BeforeTheBody() async throws {
        let backend = RawBackend { _ in .init(bytes: "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n") }
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        try await client.send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        // The 100 arrives before any body byte is sent.
        let interim = try await client.readInterim()
        #expect(interim.hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"))
        try await client.send("hello")
        #expect(try await client.readResponse()?.status == 201)
        #expect(backend.bodySizes == [5])
        #expect(backend.requests.first?.lowercased().contains("expect:") == false)
        await client.close()
    }

    @Test func largeChunkedAndCloseDelimitedDownloads() async throws {
        let big = String(repeating: "z", count: 2_000_000)
        let backend = RawBackend { head in
            if head.hasPrefix("GET /close") {
                return .init(bytes: "HTTP/1.1 200 OK\r\n\r\n" + big, closeAfter: true)
            }
            return .init(bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + String(big.utf8.count, radix: 16) + "\r\n" + big + "\r\n0\r\n\r\n")
        }
        let port = try await backend.start()
        let gw = try await GatewayHarness(yaml: GatewayHarness.yaml(port: port))
        defer { Task { await gw.stop(); await backend.stop() } }
        let client = try await RawClient(port: gw.proxyPort)
        try await client.send("GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
        let chunked = try #require(try await client.readResponse())
        #expect(chunked.body.count == 2_000_000)
        // A close-delimited upstream body reaches an HTTP/1.1 client re-chunked, on a connection that stays open.
        try await client.send("GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
        let closeDelimited = try #require(try await client.readResponse())
        #expect(closeDelimited.header("Transfer-Encoding") == "chunked")
        #expect(closeDelimited.body.count == 2_000_000)
        try await client.send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.readResponse()?.status == 200)
        await client.close()
    }
}
