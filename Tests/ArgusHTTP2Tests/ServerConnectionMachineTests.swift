@testable import ArgusHTTP2
import NIOCore
import NIOHPACK
import NIOHTTP2
import Testing

@Suite struct ServerConnectionMachineTests {
    typealias Client = H2TestClient

    @Test func aRequestAndItsResponseGoThrough() throws {
        var client = Client()
        client.connect()
        let greeting = client.written()
        #expect(greeting.map(\.type) == [FrameType.settings, FrameType.windowUpdate, FrameType.settings])
        #expect(greeting.last?.flags == FrameFlag.ack)

        let events = client.send(client.headers(1, Client.request("/a")))
        #expect(events == [.request(stream: 1, headers: HPACKHeaders(Client.request("/a")), endStream: true)])
        client.machine.sendHeaders(stream: 1, HPACKHeaders([(":status", "200"), ("content-type", "text/plain")]), endStream: false)
        client.machine.sendData(stream: 1, ByteBuffer(string: "hello"), endStream: true)
        let frames = client.written()
        #expect(frames.map(\.type) == [FrameType.headers, FrameType.data])
        let head = try client.decode(frames[0].payload)
        #expect(head[":status"] == ["200"] && head["content-type"] == ["text/plain"])
        #expect(frames[1].payload == ByteBuffer(string: "hello") && frames[1].flags == FrameFlag.endStream)
        #expect(client.machine.openStreams == 0)
    }

    @Test func framesCutAnywhereReadTheSame() {
        var whole = Client()
        whole.connect()
        var bytes = whole.headers(1, Client.request("/p", method: "POST") + [("content-length", "5")], endStream: false)
        bytes.writeImmutableBuffer(Client.data(1, "hello", endStream: true))
        whole.send(bytes)

        var pieces = Client()
        pieces.connect()
        var again = pieces.headers(1, Client.request("/p", method: "POST") + [("content-length", "5")], endStream: false)
        again.writeImmutableBuffer(Client.data(1, "hello", endStream: true))
        while let byte = again.readSlice(length: 1) { pieces.send(byte) }
        #expect(pieces.events == whole.events)
        #expect(whole.events.count == 2)  // the request, then its DATA
    }

    @Test func aWrongPrefaceOrFirstFrameEndsTheConnection() {
        var client = Client()
        client.send(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(client.events == [.connectionError(.badPreface)])
        #expect(client.written().last.flatMap(Client.code) == ErrorCodes.protocolError)

        var noSettings = Client()
        var bytes = Client.magic
        bytes.writeImmutableBuffer(Client.data(1, "x"))
        noSettings.send(bytes)
        #expect(noSettings.events == [.connectionError(.badPreface)])
    }

    @Test func malformedRequestsAreResetAndTheConnectionGoesOn() {
        let cases: [[(String, String)]] = [
            Client.request() + [("X-Upper", "1")],
            Client.request() + [("connection", "keep-alive")],
            Client.request() + [("te", "gzip")],
            Client.request() + [("transfer-encoding", "chunked")],
            [(":method", "GET"), (":scheme", "http"), (":authority", "x")],
            [(":method", "GET"), ("x-a", "1"), (":scheme", "http"), (":path", "/")],
            Client.request() + [(":method", "POST")],
            Client.request() + [(":status", "200")],
            Client.request() + [("content-length", "x")],
            Client.request() + [("content-length", "+5")],
        ]
        var client = Client()
        client.connect()
        _ = client.written()
        for (index, headers) in cases.enumerated() {
            let stream = 2 * index + 1
            let events = client.send(client.headers(stream, headers))
            #expect(events == [.streamError(stream: stream, .malformedRequest)], "\(headers)")
            #expect(client.written().map(Client.code) == [ErrorCodes.protocolError])
        }
        let events = client.send(client.headers(99, Client.request()))
        #expect(events.count == 1 && !client.machine.hasFailed)
    }

    @Test func aBodyLongerOrShorterThanItsLengthIsMalformed() {
        var client = Client()
        client.connect()
        client.send(client.headers(1, Client.request("/", method: "POST") + [("content-length", "3")], endStream: false))
        #expect(client.send(Client.data(1, "four", endStream: true)).last == .streamError(stream: 1, .malformedRequest))
        client.send(client.headers(3, Client.request("/", method: "POST") + [("content-length", "3")], endStream: false))
        #expect(client.send(Client.data(3, "tw", endStream: true)).last == .streamError(stream: 3, .malformedRequest))
        client.send(client.headers(5, Client.request("/", method: "POST") + [("content-length", "3")], endStream: true))
        #expect(client.events.last == .streamError(stream: 5, .malformedRequest))
    }

    @Test func responseDataWaitsForTheClientsWindow() throws {
        var client = Client()
        client.connect(settings: [(0x4, 10)])  // INITIAL_WINDOW_SIZE 10
        client.send(client.headers(1, Client.request()))
        _ = client.written()
        client.machine.sendHeaders(stream: 1, HPACKHeaders([(":status", "200")]), endStream: false)
        client.machine.sendData(stream: 1, ByteBuffer(string: String(repeating: "a", count: 25)), endStream: false)
        client.machine.sendHeaders(stream: 1, HPACKHeaders([("grpc-status", "0")]), endStream: true)
        var frames = client.written()
        #expect(frames.map(\.type) == [FrameType.headers, FrameType.data])
        #expect(frames[1].payload.readableBytes == 10)
        #expect(client.machine.pendingBytes(stream: 1) == 15)

        #expect(client.send(Client.windowUpdate(1, 10)) == [.windowOpened])
        frames = client.written()
        #expect(frames.map(\.payload.readableBytes) == [10])
        // A larger INITIAL_WINDOW_SIZE opens every stream's window: the rest goes, then the trailers.
        let settings = Client.frame(FrameType.settings, 0, 0, client.settingsPayload([(0x4, 100)]))
        #expect(client.send(settings) == [.windowOpened])
        frames = client.written()
        #expect(frames.map(\.type) == [FrameType.settings, FrameType.data, FrameType.headers])
        #expect(frames[1].payload.readableBytes == 5 && frames[2].flags & FrameFlag.endStream != 0)
        #expect(try client.decode(frames[2].payload)["grpc-status"] == ["0"])
        #expect(client.machine.pendingBytes(stream: 1) == 0 && client.machine.openStreams == 0)
    }

    @Test func theConnectionWindowIsSharedAndCreditedBack() {
        var client = Client()
        client.connect()
        client.send(client.headers(1, Client.request()))
        client.send(client.headers(3, Client.request()))
        _ = client.written()
        let body = ByteBuffer(repeating: 0x61, count: 40000)
        client.machine.sendHeaders(stream: 1, HPACKHeaders([(":status", "200")]), endStream: false)
        client.machine.sendData(stream: 1, body, endStream: true)
        client.machine.sendHeaders(stream: 3, HPACKHeaders([(":status", "200")]), endStream: false)
        client.machine.sendData(stream: 3, body, endStream: true)
        let sent = client.written().filter { $0.type == FrameType.data }.map(\.payload.readableBytes).reduce(0, +)
        #expect(sent == 65535)  // the default connection window, shared
        client.send(Client.windowUpdate(0, 14465))
        #expect(client.written().filter { $0.type == FrameType.data }.map(\.payload.readableBytes).reduce(0, +) == 14465)
        #expect(client.machine.openStreams == 0)

        // The client's DATA is credited back on the connection once half the window was used.
        var uploads = Client()
        uploads.connect()
        _ = uploads.written()
        for stream in stride(from: 1, through: 21, by: 2) {  // 11 × 48 KiB: past half the 1 MiB window
            uploads.send(uploads.headers(stream, Client.request("/", method: "POST"), endStream: false))
            uploads.send(Client.frame(FrameType.data, 0, stream, ByteBuffer(repeating: 0, count: 16384)))
            uploads.send(Client.frame(FrameType.data, 0, stream, ByteBuffer(repeating: 0, count: 16384)))
            uploads.send(Client.frame(FrameType.data, 0, stream, ByteBuffer(repeating: 0, count: 16384)))
        }
        let credits = uploads.written().filter { $0.type == FrameType.windowUpdate && $0.stream == 0 }
        #expect(credits.count == 1)
        #expect(!uploads.machine.hasFailed)
        // A stream's window is its own: past it, that stream is reset.
        uploads.send(Client.frame(FrameType.data, 0, 1, ByteBuffer(repeating: 0, count: 16384)))
        #expect(uploads.events.last == .streamError(stream: 1, .flowControl))
    }

    @Test func streamsPastTheLimitAreRefused() {
        var settings = ServerConnectionMachine.Settings()
        settings.maxConcurrentStreams = 2
        var client = Client(settings)
        client.connect()
        _ = client.written()
        client.send(client.headers(1, Client.request(), endStream: false))
        client.send(client.headers(3, Client.request(), endStream: false))
        #expect(client.send(client.headers(5, Client.request())) == [.streamError(stream: 5, .tooManyStreams)])
        #expect(client.written().map(Client.code) == [ErrorCodes.refusedStream])
        client.send(Client.rst(1))
        #expect(client.send(client.headers(7, Client.request())).count == 1)
    }

    @Test func headerBlocksSpanContinuationFramesWithinLimits() throws {
        var client = Client()
        client.connect()
        var block = client.block(Client.request() + [("x-a", String(repeating: "v", count: 100))])
        let first = block.readSlice(length: 10)!
        var bytes = Client.frame(FrameType.headers, FrameFlag.endStream, 1, first)
        bytes.writeImmutableBuffer(Client.frame(FrameType.continuation, FrameFlag.endHeaders, 1, block))
        let events = client.send(bytes)
        guard case .request(1, let headers, true) = events.first else {
            Issue.record("no request: \(events)")
            return
        }
        #expect(headers["x-a"].first?.count == 100)

        // Another frame inside a block ends the connection.
        var interleaved = Client()
        interleaved.connect()
        var cut = interleaved.block(Client.request())
        var frames = Client.frame(FrameType.headers, FrameFlag.endStream, 1, cut.readSlice(length: 3)!)
        frames.writeImmutableBuffer(Client.data(3, "x"))
        interleaved.send(frames)
        #expect(interleaved.events == [.connectionError(.protocolError)])

        // One block in 1-byte CONTINUATION frames (CVE-2024-27316): GOAWAY ENHANCE_YOUR_CALM.
        var flood = Client()
        flood.connect()
        var long = flood.block(Client.request() + (0..<40).map { ("x-h\($0)", String(repeating: "v", count: 20)) })
        var floodBytes = Client.frame(FrameType.headers, 0, 1, long.readSlice(length: 1)!)
        while let byte = long.readSlice(length: 1) { floodBytes.writeImmutableBuffer(Client.frame(FrameType.continuation, 0, 1, byte)) }
        flood.send(floodBytes)
        #expect(flood.events == [.connectionError(.continuationFlood)])
        #expect(flood.written().last.flatMap(Client.code) == ErrorCodes.enhanceYourCalm)
    }

    @Test func aResponseHeadLargerThanAFrameGoesOnInContinuationFrames() throws {
        var client = Client()
        client.connect()
        client.send(client.headers(1, Client.request()))
        _ = client.written()
        let big = String(repeating: "b", count: 20000)
        client.machine.sendHeaders(stream: 1, HPACKHeaders([(":status", "200"), ("x-big", big)]), endStream: true)
        let frames = client.written()
        #expect(frames.map(\.type) == [FrameType.headers, FrameType.continuation])
        #expect(frames[0].flags == FrameFlag.endStream && frames[1].flags == FrameFlag.endHeaders)
        var block = frames[0].payload
        block.writeImmutableBuffer(frames[1].payload)
        #expect(try client.decode(block)["x-big"] == [big])
    }

    @Test func rapidResetEndsTheConnectionButResetsOverTimeDoNot() {
        var client = Client()
        client.connect()
        var stream = 1
        for _ in 0..<250 where !client.machine.hasFailed {
            client.send(client.headers(stream, Client.request(), endStream: false))
            client.send(Client.rst(stream))
            stream += 2
        }
        #expect(client.events.last == .connectionError(.rapidReset))
        #expect(client.written().last.flatMap(Client.code) == ErrorCodes.enhanceYourCalm)

        var patient = Client()
        patient.connect()
        stream = 1
        for _ in 0..<250 {
            patient.now += 200_000_000  // 5 a second: the bucket refills faster
            patient.send(patient.headers(stream, Client.request(), endStream: false))
            patient.send(Client.rst(stream))
            stream += 2
        }
        #expect(!patient.machine.hasFailed)
    }

    @Test func pingsAreAnsweredUntilTheyFlood() {
        var client = Client()
        client.connect()
        _ = client.written()
        var payload = ByteBuffer()
        payload.writeInteger(UInt64(42))
        client.send(Client.frame(FrameType.ping, 0, 0, payload))
        let answer = client.written()
        #expect(answer.count == 1 && answer[0].flags == FrameFlag.ack && answer[0].payload == payload)
        var flood = ByteBuffer()
        for _ in 0..<1100 { flood.writeImmutableBuffer(Client.frame(FrameType.ping, 0, 0, payload)) }
        client.send(flood)
        #expect(client.events == [.connectionError(.controlFrameFlood)])
        #expect(client.written().last.flatMap(Client.code) == ErrorCodes.enhanceYourCalm)
    }

    @Test func protocolViolationsAreConnectionErrors() {
        let violations: [(String, ByteBuffer)] = [
            ("DATA on stream 0", Client.data(0, "x")),
            ("DATA on an idle stream", Client.data(7, "x")),
            ("an even stream", { var c = Client(); return c.headers(2, Client.request()) }()),
            ("a frame over the size limit", Client.frame(FrameType.data, 0, 1, ByteBuffer(repeating: 0, count: 16385))),
            ("PUSH_PROMISE from a client", Client.frame(FrameType.pushPromise, 0, 1, ByteBuffer(repeating: 0, count: 4))),
            ("CONTINUATION without HEADERS", Client.frame(FrameType.continuation, FrameFlag.endHeaders, 1, ByteBuffer())),
            ("a WINDOW_UPDATE of 0", Client.windowUpdate(0, 0)),
            ("a SETTINGS frame of 5 bytes", Client.frame(FrameType.settings, 0, 0, ByteBuffer(repeating: 0, count: 5))),
            ("a connection window past 2^31-1", Client.windowUpdate(0, 0x7FFF_FFFF)),
        ]
        for (name, bytes) in violations {
            var client = Client()
            client.connect()
            client.send(bytes)
            #expect(client.machine.hasFailed, "\(name)")
            guard case .connectionError = client.events.last else {
                Issue.record("\(name): \(client.events)")
                continue
            }
        }
    }

    @Test func framesForClosedStreamsAreIgnored() {
        var client = Client()
        client.connect()
        client.send(client.headers(1, Client.request()))
        client.machine.sendHeaders(stream: 1, HPACKHeaders([(":status", "204")]), endStream: true)
        _ = client.written()
        var late = Client.data(1, "late")
        late.writeImmutableBuffer(Client.rst(1))
        late.writeImmutableBuffer(Client.windowUpdate(1, 5))
        #expect(client.send(late) == [])
        #expect(!client.machine.hasFailed && client.written().isEmpty)
    }

    @Test func goAwayStopsNewStreams() {
        var client = Client()
        client.connect()
        client.send(client.headers(1, Client.request(), endStream: false))
        client.machine.goAway()
        #expect(client.written().last.map(\.type) == FrameType.goAway)
        #expect(client.send(client.headers(3, Client.request())) == [])
        #expect(client.send(Client.data(1, "x", endStream: true)).count == 1)
    }

    @Test func streamIdsMustGrowButFramesForStreamsResetHereAreIgnored() {
        var client = Client()
        client.connect()
        client.send(client.headers(5, Client.request()))
        client.send(client.headers(3, Client.request()))
        #expect(client.events.last == .connectionError(.protocolError))

        // A stream refused here may still get the client's trailers in flight: ignored.
        var settings = ServerConnectionMachine.Settings()
        settings.maxConcurrentStreams = 1
        var refused = Client(settings)
        refused.connect()
        refused.send(refused.headers(1, Client.request(), endStream: false))
        refused.send(refused.headers(3, Client.request(), endStream: false))
        #expect(refused.events.last == .streamError(stream: 3, .tooManyStreams))
        #expect(refused.send(refused.headers(3, [("x-trailer", "1")])) == [])
        #expect(!refused.machine.hasFailed)
    }

    @Test func aStreamThatDependsOnItselfIsReset() {
        var client = Client()
        client.connect()
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(1))  // depends on stream 1: itself
        payload.writeInteger(UInt8(16))
        payload.writeImmutableBuffer(client.block(Client.request()))
        #expect(client.send(Client.frame(FrameType.headers, FrameFlag.endHeaders | FrameFlag.endStream | FrameFlag.priority, 1, payload))
            == [.streamError(stream: 1, .protocolError)])
        var priority = ByteBuffer()
        priority.writeInteger(UInt32(3))
        priority.writeInteger(UInt8(16))
        client.send(client.headers(3, Client.request(), endStream: false))
        #expect(client.send(Client.frame(FrameType.priority, 0, 3, priority)) == [.streamError(stream: 3, .protocolError)])
        // The HPACK state stayed in step: the next request decodes.
        #expect(client.send(client.headers(5, Client.request("/next"))).count == 1)
    }

    @Test func aSmallerHeaderTableIsAnsweredWithATableSizeUpdate() throws {
        var client = Client()
        client.connect(settings: [(0x1, 0)])
        client.send(client.headers(1, Client.request()))
        client.send(client.headers(3, Client.request()))
        _ = client.written()
        client.machine.sendHeaders(stream: 1, HPACKHeaders([(":status", "200")]), endStream: true)
        client.machine.sendHeaders(stream: 3, HPACKHeaders([(":status", "200")]), endStream: true)
        let blocks = client.written().map(\.payload)
        #expect(blocks.map { Array($0.readableBytesView) } == [[0x20, 0x88], [0x88]])  // the update once, then :status 200
        var decoder = HPACKDecoder(allocator: ByteBufferAllocator(), maxDynamicTableSize: 0)
        var first = blocks[0]
        #expect(try decoder.decodeHeaders(from: &first)[":status"] == ["200"])
    }

    @Test func aSecondGoAwayNamesTheSameLastStream() {
        var client = Client()
        client.connect()
        client.send(client.headers(1, Client.request(), endStream: false))
        client.machine.goAway()
        client.send(client.headers(3, Client.request()))
        client.send(Client.data(0, "x"))  // a connection error after the graceful GOAWAY
        let lasts = client.written().filter { $0.type == FrameType.goAway }.map { $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt32.self) }
        #expect(lasts == [1, 1])
    }

    @Test func aNoErrorResetAfterTheResponseIsDroppedWhenTheRequestEnds() {
        var client = Client()
        client.connect(settings: [(0x4, 1)])
        client.send(client.headers(1, Client.request("/", method: "POST"), endStream: false))
        _ = client.written()
        client.machine.sendHeaders(stream: 1, HPACKHeaders([(":status", "200")]), endStream: false)
        client.machine.sendData(stream: 1, ByteBuffer(string: "ab"), endStream: true)
        client.machine.sendReset(stream: 1, code: .noError)  // (the request is still open: after the response)
        client.send(Client.data(1, "", endStream: true))
        client.send(Client.windowUpdate(1, 1))
        let frames = client.written()
        #expect(!frames.contains { $0.type == FrameType.rstStream })
        #expect(client.machine.openStreams == 0)
    }

    @Test func whatWaitsForWindowIsCountedUntilSentOrReset() {
        var client = Client()
        client.connect(settings: [(0x4, 0)])
        client.send(client.headers(1, Client.request()))
        client.send(client.headers(3, Client.request()))
        client.machine.sendHeaders(stream: 1, HPACKHeaders([(":status", "200")]), endStream: false)
        client.machine.sendData(stream: 1, ByteBuffer(string: "0123456789"), endStream: true)
        client.machine.sendHeaders(stream: 3, HPACKHeaders([(":status", "200")]), endStream: false)
        client.machine.sendData(stream: 3, ByteBuffer(string: "abcde"), endStream: true)
        #expect(client.machine.pendingTotal == 15)
        client.send(Client.rst(3))
        #expect(client.machine.pendingTotal == 10)
        client.send(Client.windowUpdate(1, 4))
        #expect(client.machine.pendingTotal == 6)
        client.send(Client.windowUpdate(1, 100))
        #expect(client.machine.pendingTotal == 0 && client.machine.openStreams == 0)
    }
}
