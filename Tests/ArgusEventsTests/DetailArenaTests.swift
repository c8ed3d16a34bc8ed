import Foundation
import Synchronization
import Testing
@testable import ArgusEvents

/// Set once by one thread, read by another.
final class DoneFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}

@Suite("Request details beside the events")
struct DetailArenaTests {
    private func bytes(_ n: Int, seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed } }

    @Test func detailsTravelWithTheirEvents() {
        let ring = EventRing(capacity: 64, lanes: 2, detailCapacity: 4096)
        let consumer = ring.makeConsumer(name: "c")
        for (lane, n) in [(0, 0), (1, 1), (0, 7), (1, 8), (0, 9), (1, 300)] {
            var event = RequestEvent()
            event.requestIDLow = UInt64(n)
            bytes(n, seed: UInt8(lane)).withUnsafeBytes { ring.producer(lane: lane).publish(event, detail: $0) }
        }
        var seen = 0
        var out: [UInt8] = []
        consumer.drain { batch in
            for event in batch {
                #expect(event.detail != 0)
                #expect(ring.detail(of: event, into: &out))
                #expect(out == bytes(Int(event.requestIDLow), seed: event.producer))
                seen += 1
            }
        }
        #expect(seen == 6)
        // An event published without details has none.
        ring.producer(lane: 0).publish(RequestEvent())
        consumer.drain { batch in #expect(batch.count == 1 && !ring.detail(of: batch[0], into: &out) && out.isEmpty) }
    }

    @Test func overwrittenDetailsAreReportedLostNeverWrong() {
        let ring = EventRing(capacity: 1024, lanes: 1, detailCapacity: 4096)
        let consumer = ring.makeConsumer(name: "c")
        let producer = ring.producer(lane: 0)
        for i in 0..<100 {
            var event = RequestEvent()
            event.requestIDLow = UInt64(i)
            bytes(100, seed: UInt8(i)).withUnsafeBytes { producer.publish(event, detail: $0) }
        }
        var intact = 0, lost = 0
        var out: [UInt8] = []
        consumer.drain(max: 1024) { batch in
            for event in batch {
                if ring.detail(of: event, into: &out) {
                    #expect(out == bytes(100, seed: UInt8(event.requestIDLow)))
                    intact += 1
                } else {
                    lost += 1
                }
            }
        }
        // 100 records of 108 bytes in 4096: only the newest ~37 survive.
        #expect(intact + lost == 100)
        #expect(intact > 30 && intact < 40)
        #expect(lost > 60)
    }

    @Test func oversizedDetailsAreTruncatedToTheLargestRecord() {
        let ring = EventRing(capacity: 64, lanes: 1, detailCapacity: 8192)
        let consumer = ring.makeConsumer(name: "c")
        bytes(5000, seed: 3).withUnsafeBytes { ring.producer(lane: 0).publish(RequestEvent(), detail: $0) }
        var out: [UInt8] = []
        consumer.drain { batch in #expect(ring.detail(of: batch[0], into: &out)) }
        #expect(out == Array(bytes(5000, seed: 3).prefix(8192 / 8 - 8)))
    }

    @Test(.timeLimit(.minutes(5)))
    func concurrentReadersSeeIntactOrLostUnderAProducerLappingThem() {
        let ring = EventRing(capacity: 4096, lanes: 1, detailCapacity: 4096)
        let consumer = ring.makeConsumer(name: "c")
        let producer = ring.producer(lane: 0)
        let done = DoneFlag()
        let results = Results<[Int]>()
        onThreads(2) { thread in
            if thread == 0 {
                for i in 0..<200_000 {
                    var event = RequestEvent()
                    event.requestIDLow = UInt64(i)
                    let n = 1 + i % 200
                    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { buffer in
                        for k in 0..<n { buffer[k] = UInt8(truncatingIfNeeded: i &+ k) }
                        producer.publish(event, detail: UnsafeRawBufferPointer(buffer))
                    }
                }
                done.set()
            } else {
                var out: [UInt8] = []
                var a = 0, l = 0, w = 0
                while !done.isSet || consumer.lag > 0 {
                    consumer.drain(max: 256) { batch in
                        for event in batch {
                            if ring.detail(of: event, into: &out) {
                                let i = Int(event.requestIDLow)
                                let expected = (0..<(1 + i % 200)).map { UInt8(truncatingIfNeeded: i &+ $0) }
                                if out == expected { a += 1 } else { w += 1 }
                            } else {
                                l += 1
                            }
                        }
                    }
                }
                results.append([a, l, w])
            }
        }
        let counts = results.all.first ?? [0, 0, 1]
        let (intact, lost, wrong) = (counts[0], counts[1], counts[2])
        #expect(wrong == 0)
        #expect(intact > 0)
        #expect(intact + lost + Int(consumer.dropped) == 200_000)
    }
}

@Suite("Request detail encoding")
struct RequestDetailCodecTests {
    @Test func everyPartAtItsCutFitsTheEncodersReservation() {
        // heads past the cut, more tries than kept, strings past 255 bytes, 300 increments: the
        // loop's encoder reserves the largest size once (a precondition guards it), and what it
        // wrote decodes to the cut parts
        let long = String(repeating: "h", count: 400)
        let tries = (0..<20).map { RequestDetail.Try(host: long, port: 70_000, code: 502, failed: $0 % 2 == 0, startedAt: UInt64($0)) }
        let head = [UInt8](repeating: 0x41, count: RequestDetail.maxHeadBytes + 10)
        let limits = RequestDetail.ResponseLimits(
            plugin: 3, nowMs: 42, identifier: long, increments: (0..<300).map { .init(limit: UInt8($0 % 7), value: Int64($0)) })
        let ids = RequestDetail.TraceIDs(traceHigh: 1, traceLow: 2, parentSpanID: 3, spanID: 4, upstreamSpanID: 5, sampled: true, plugin: 6)
        let encoder = DetailEncoder(capacity: 64)
        for _ in 0..<2 {  // the second time into the grown buffer
            head.withUnsafeBytes { h in
                RequestDetail.encode(
                    requestHead: h, upstreamTarget: h, responseHead: h, tries: tries, serverPort: 70_000, credentialID: long,
                    correlationID: long, tls: .init(version: long, cipher: long, serverName: long), grpcStatus: 99_999, trace: ids,
                    responseLimits: limits, into: encoder)
            }
            let decoded = RequestDetail.decode(Array(encoder.bytes))
            #expect(decoded?.requestHead.count == RequestDetail.maxHeadBytes)
            #expect(decoded?.responseHead.count == RequestDetail.maxHeadBytes)
            #expect(decoded?.tries.count == RequestDetail.maxTries)
            #expect(decoded?.tries.first?.host.utf8.count == 255)
            #expect(decoded?.tries.first?.port == 65_535)
            #expect(decoded?.credentialID.count == 255)
            #expect(decoded?.grpcStatus == Int(Int16.max))
            #expect(decoded?.trace?.spanID == 4)
            #expect(decoded?.responseLimits?.identifier.utf8.count == 255)
            #expect(decoded?.responseLimits?.increments.count == 255)
        }
    }

    @Test func roundTrips() {
        let tries = [RequestDetail.Try(host: "10.0.0.1", port: 8080, code: 502, failed: true, startedAt: 123),
                     RequestDetail.Try(host: "backend.internal", port: 80, code: 200, failed: false, startedAt: 456)]
        var out: [UInt8] = []
        let request = Array("GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n".utf8), target = Array("/v1/a?b=1".utf8)
        let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n".utf8)
        request.withUnsafeBytes { r in target.withUnsafeBytes { t in response.withUnsafeBytes { s in
            RequestDetail.encode(requestHead: r, upstreamTarget: t, responseHead: s, tries: tries, serverPort: 8000, into: &out)
        } } }
        #expect(RequestDetail.decode(out) == RequestDetail(requestHead: request, upstreamTarget: target, responseHead: response, tries: tries, serverPort: 8000))
        #expect(RequestDetail.decode(Array(out.dropLast())) == nil)
        #expect(RequestDetail.decode([]) == nil)
        var withCredential: [UInt8] = []
        request.withUnsafeBytes { r in target.withUnsafeBytes { t in response.withUnsafeBytes { s in
            RequestDetail.encode(requestHead: r, upstreamTarget: t, responseHead: s, tries: [], serverPort: 80, credentialID: "cred-1", into: &withCredential)
        } } }
        #expect(RequestDetail.decode(withCredential)?.credentialID == Array("cred-1".utf8))
        #expect(RequestDetail.decode(withCredential)?.grpcStatus == nil)
        var withGRPC: [UInt8] = []
        request.withUnsafeBytes { r in target.withUnsafeBytes { t in response.withUnsafeBytes { s in
            RequestDetail.encode(requestHead: r, upstreamTarget: t, responseHead: s, tries: [], serverPort: 80, grpcStatus: 14, into: &withGRPC)
        } } }
        #expect(RequestDetail.decode(withGRPC)?.grpcStatus == 14)
        #expect(RequestDetail.decode(withGRPC)?.trace == nil)
        // a traced request: the ids follow the gRPC status (none here: the sentinel stands in)
        var ids = RequestDetail.TraceIDs(
            traceHigh: 0x0af7_6519_16cd_43dd, traceLow: 0x8448_eb21_1c80_319c, parentSpanID: 0xb7ad_6b71_6920_3331, spanID: 7,
            upstreamSpanID: 9, sampled: true, plugin: 3)
        ids.injected = 0b101
        ids.originalSize = 8
        for grpc in [nil, 0] as [Int?] {
            var traced: [UInt8] = []
            request.withUnsafeBytes { r in target.withUnsafeBytes { t in response.withUnsafeBytes { s in
                RequestDetail.encode(requestHead: r, upstreamTarget: t, responseHead: s, tries: [], serverPort: 80, grpcStatus: grpc, trace: ids, into: &traced)
            } } }
            let decoded = RequestDetail.decode(traced)
            #expect(decoded?.trace == ids)
            #expect(decoded?.grpcStatus == grpc)
            #expect(RequestDetail.decode(Array(traced.dropLast()))?.trace == nil)
        }
        // a response's response-ratelimiting spending: after the trace block (a stand-in when untraced)
        let spent = RequestDetail.ResponseLimits(
            plugin: 4, nowMs: 1_700_000_040_000, identifier: "10.0.0.7", increments: [.init(limit: 0, value: 2), .init(limit: 3, value: -1)])
        for trace in [nil, ids] as [RequestDetail.TraceIDs?] {
            var encoded: [UInt8] = []
            request.withUnsafeBytes { r in target.withUnsafeBytes { t in response.withUnsafeBytes { s in
                RequestDetail.encode(
                    requestHead: r, upstreamTarget: t, responseHead: s, tries: [], serverPort: 80, trace: trace, responseLimits: spent, into: &encoded)
            } } }
            let decoded = RequestDetail.decode(encoded)
            #expect(decoded?.responseLimits == spent)
            #expect(decoded?.trace == trace)
            #expect(decoded?.grpcStatus == nil)
            #expect(RequestDetail.decode(Array(encoded.dropLast()))?.responseLimits == nil)
        }
    }
}
