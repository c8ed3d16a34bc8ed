import ArgusApp
import ArgusEvents
import Testing

@Suite("Every request becomes one event on the ring")
struct RequestEventPublishingTests {
    @Test func proxiedGatewayAndMalformedRequestsEachPublishOneEvent() async throws {
        let backend = RawBackend.ok(body: "hello")
        let port = try await backend.start()
        let refusing = RefusingPort()
        let dead = refusing.port
        let yaml = """
            _format_version: "3.0"
            services:
              - name: live
                url: http://127.0.0.1:\(port)
                routes: [{name: ok, paths: ["/ok"]}]
              - name: gone
                url: http://127.0.0.1:\(dead)
                retries: 1
                routes: [{name: dead, paths: ["/dead"]}]
            """
        let gw = try await GatewayHarness(yaml: yaml)
        defer { Task { await gw.stop(); await backend.stop() } }
        let consumer = gw.gateway.events.makeConsumer(name: "test")

        #expect(try await gw.request("GET /ok/x HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200)
        #expect(try await gw.request("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")?.status == 404)
        #expect(try await gw.request("GET /dead HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 502)
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")?.status == 400)

        var events: [RequestEvent] = []
        for _ in 0..<100 where events.count < 4 {
            _ = consumer.drain(max: 16) { batch in events += batch }
            if events.count < 4 { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(events.count == 4)
        #expect(gw.gateway.events.totalPublished == 4)
        guard events.count == 4 else { return }
        let (ok, noRoute, bad, malformed) = (events[0], events[1], events[2], events[3])

        #expect(ok.status == 200 && ok.source == .upstream && ok.decision == .none)
        #expect(ok.route == 0 && ok.service == 0 && ok.method == .get && ok.tries == 1)
        #expect(ok.upstreamSentAt >= ok.receivedAt && ok.upstreamFirstByteAt >= ok.upstreamSentAt)
        #expect(ok.completedAt >= ok.upstreamFirstByteAt)
        #expect(ok.responseBytes > 5 && ok.requestBytes > 0)
        #expect(ok.addressFamily == .ipv4 && ok.clientAddress == ClientAddress(ipv4: 0x7F00_0001))

        #expect(noRoute.status == 404 && noRoute.source == .gateway && noRoute.decision == .noRoute)
        #expect(noRoute.route == -1 && noRoute.service == -1 && noRoute.method == .post)
        #expect(noRoute.upstreamSentAt == 0)

        #expect(bad.status == 502 && bad.source == .gateway && bad.decision == .badUpstreamResponse)
        #expect(bad.route == 1 && bad.service == 1 && bad.tries == 2)

        #expect(malformed.status == 400 && malformed.decision == .badRequest)
        #expect(Set(events.map { $0.requestIDLow }).count == 4)
        withExtendedLifetime(refusing) {}
    }
}
