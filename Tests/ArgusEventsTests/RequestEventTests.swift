import Testing
@testable import ArgusEvents

@Suite struct RequestEventTests {
    @Test func fitsInOneSlotAndIsPlainData() {
        #expect(MemoryLayout<RequestEvent>.size <= 128)
        #expect(MemoryLayout<RequestEvent>.size == 120)
        #expect(MemoryLayout<RequestEvent>.stride == 120)
        #expect(MemoryLayout<RequestEvent>.size % 8 == 0)
        #expect(_isPOD(RequestEvent.self))
        #expect(EventRingStorage.eventWords + 1 <= EventRingStorage.slotWords)
    }

    @Test func latenciesFollowKong() {
        var e = RequestEvent()
        e.receivedAt = 1_000
        e.upstreamSentAt = 1_250
        e.upstreamFirstByteAt = 4_250
        e.completedAt = 5_000
        #expect(e.gatewayLatencyNanos == 250)
        #expect(e.upstreamLatencyNanos == 3_000)
        #expect(e.totalLatencyNanos == 4_000)

        var local = RequestEvent()  // answered by the gateway: never sent upstream
        local.receivedAt = 10
        local.completedAt = 60
        local.decision = .noRoute
        #expect(local.gatewayLatencyNanos == 50)
        #expect(local.upstreamLatencyNanos == 0)
        #expect(local.totalLatencyNanos == 50)
    }

    @Test func defaultsMeanNone() {
        let e = RequestEvent()
        #expect(e.service == -1 && e.route == -1 && e.consumer == -1 && e.upstreamTarget == -1)
        #expect(e.decision == .none && e.method == .unknown)
    }

    @Test func clientAddresses() {
        let v4 = ClientAddress(ipv4: 0x7F00_0001)  // 127.0.0.1
        #expect(v4.bytes == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 127, 0, 0, 1])
        let loopback6 = ClientAddress(ipv6: [UInt8](repeating: 0, count: 15) + [1])
        #expect(loopback6.high == 0 && loopback6.low == 1)
        let bytes: [UInt8] = (1...16).map { UInt8($0) }
        #expect(ClientAddress(ipv6: bytes).bytes == bytes)
    }

    @Test func codes() {
        #expect(RequestMethod(name: "GET") == .get)
        #expect(RequestMethod(name: "PATCH").description == "PATCH")
        #expect(RequestMethod(name: "PROPFIND") == .other)
        #expect(RequestDecision.rateLimited.description == "rate_limited")
        #expect(RequestDecision(rawValue: 200).description == "code_200")
        #expect(ResponseSource.gateway.description == "gateway")
    }
}
