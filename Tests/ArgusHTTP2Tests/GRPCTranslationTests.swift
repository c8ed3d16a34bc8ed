import ArgusHTTP
import ArgusHTTP2
import NIOCore
import NIOHPACK
import Testing

/// The way to a gRPC upstream: the HTTP/1.1 request the data path writes, as HTTP/2 frames'
/// contents (`RequestTranslator`), and the upstream's HTTP/2 response as the HTTP/1.1 bytes the
/// data path reads (`ResponseSynthesizer`), trailers included; and the trailers' way back to an
/// HTTP/2 client (`ResponseTranslator`).
@Suite struct GRPCTranslationTests {
    func render(_ part: RequestTranslator.Part) -> String {
        switch part {
        case .headers(let headers, let end):
            return "H\(end ? "!" : "") " + headers.map { "\($0.name): \($0.value)" }.joined(separator: ", ")
        case .headBlock(var block, let end):
            var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
            let headers = (try? decoder.decodeHeaders(from: &block)) ?? [:]
            return "H\(end ? "!" : "") " + headers.map { "\($0.name): \($0.value)" }.joined(separator: ", ")
        case .data(let data, let end):
            return "D\(end ? "!" : "") " + String(buffer: data)
        }
    }

    func translate(_ pieces: [String], scheme: String = "http") throws -> [String] {
        var translator = RequestTranslator(scheme: scheme)
        var out: [String] = []
        for piece in pieces { try translator.feed(ByteBuffer(string: piece)) { out.append(render($0)) } }
        return out
    }

    @Test func aChunkedRequestBecomesHeadersAndDataWithPseudoHeadersFirst() throws {
        let out = try translate([
            "POST /pkg.Svc/Call HTTP/1.1\r\nHost: up.test:50051\r\nConnection: keep-alive\r\nContent-Type: application/grpc\r\n"
                + "TE: trailers\r\nTransfer-Encoding: chunked\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
            "5\r\nhello\r\n", "0\r\n\r\n",
        ])
        #expect(out == [
            "H :method: POST, :scheme: http, :authority: up.test:50051, :path: /pkg.Svc/Call, content-type: application/grpc, "
                + "x-forwarded-for: 10.0.0.1, te: trailers",
            "D hello", "D! ",
        ])
    }

    @Test func aLengthBodyEndsWithItsLastByteAndHeadAndBodyMaySplitAnywhere() throws {
        let out = try translate(["PUT /x HTTP/1.1\r\nHost: h\r\nContent-", "Length: 4\r\n\r\nab", "cd"], scheme: "https")
        #expect(out == ["H :method: PUT, :scheme: https, :authority: h, :path: /x, content-length: 4, te: trailers", "D ab", "D! cd"])
    }

    @Test func aRequestWithoutBodyEndsWithItsHeadersAndFieldsNamedByConnectionAreDropped() throws {
        let out = try translate(["GET /x?y=1 HTTP/1.1\r\nHost: h\r\nConnection: x-hop\r\nX-Hop: 1\r\nUpgrade: h2c\r\nKeep-Alive: 5\r\n\r\n"])
        #expect(out == ["H! :method: GET, :scheme: http, :authority: h, :path: /x?y=1, te: trailers"])
    }

    @Test func requestTrailersEndTheStreamAsHeaders() throws {
        let out = try translate(["POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Sum: 9\r\n\r\n"])
        #expect(out == ["H :method: POST, :scheme: http, :authority: h, :path: /x, te: trailers", "D a", "H! x-sum: 9"])
    }

    @Test func aBrokenChunkedBodyIsUntranslatable() {
        #expect(throws: RequestTranslator.Untranslatable.self) {
            _ = try translate(["POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
        }
    }

    // MARK: - The upstream's response as HTTP/1.1

    func synthesize(_ steps: [(HPACKHeaders?, String?, Bool)], head: Bool = false) throws -> String {
        var synthesizer = ResponseSynthesizer(requestWasHEAD: head)
        var out = ""
        for (headers, data, end) in steps {
            if let headers { out += String(buffer: try synthesizer.headers(headers, endStream: end, allocator: .init())) }
            if let data, let bytes = try synthesizer.data(ByteBuffer(string: data), endStream: end, allocator: .init()) {
                out += String(buffer: bytes)
            }
        }
        return out
    }

    @Test func aStreamedResponseIsChunkedAndItsTrailersAreTheTrailerSection() throws {
        let out = try synthesize([
            (HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")]), nil, false),
            (nil, "hello", false),
            (HPACKHeaders([("grpc-status", "0"), ("grpc-message", "")]), nil, true),
        ])
        #expect(out == "HTTP/1.1 200 \r\ncontent-type: application/grpc\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"
            + "0\r\ngrpc-status: 0\r\ngrpc-message: \r\n\r\n")
    }

    @Test func aTrailersOnlyAnswerGetsALengthOfZero() throws {
        let out = try synthesize([(HPACKHeaders([(":status", "200"), ("grpc-status", "12")]), nil, true)])
        #expect(out == "HTTP/1.1 200 \r\ngrpc-status: 12\r\ncontent-length: 0\r\n\r\n")
    }

    @Test func aBodyOfKnownLengthPassesAsItIsAndAnEmptyEndIsTheLastChunk() throws {
        #expect(try synthesize([(HPACKHeaders([(":status", "200"), ("content-length", "2")]), nil, false), (nil, "ok", true)])
            == "HTTP/1.1 200 \r\ncontent-length: 2\r\n\r\nok")
        #expect(try synthesize([(HPACKHeaders([(":status", "200")]), nil, false), (nil, "", true)])
            == "HTTP/1.1 200 \r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n")
        // no body for HEAD, whatever follows
        #expect(try synthesize([(HPACKHeaders([(":status", "200"), ("content-length", "9")]), nil, false), (nil, "", true)], head: true)
            == "HTTP/1.1 200 \r\ncontent-length: 9\r\n\r\n")
    }

    @Test func interimHeadsPassAndBadHeadsAreRefused() throws {
        #expect(try synthesize([(HPACKHeaders([(":status", "100")]), nil, false), (HPACKHeaders([(":status", "204")]), nil, true)])
            == "HTTP/1.1 100 \r\n\r\nHTTP/1.1 204 \r\n\r\n")
        #expect(throws: ResponseSynthesizer.Malformed.self) { _ = try synthesize([(HPACKHeaders([("x", "1")]), nil, true)]) }
        #expect(throws: ResponseSynthesizer.Malformed.self) { _ = try synthesize([(HPACKHeaders([(":status", "2000")]), nil, true)]) }
        #expect(throws: ResponseSynthesizer.Malformed.self) {
            _ = try synthesize([(HPACKHeaders([(":status", "200"), ("x", "a\r\nb")]), nil, true)])
        }
        #expect(throws: ResponseSynthesizer.Malformed.self) { _ = try synthesize([(nil, "data first", false)]) }
    }

    /// What the synthesizer writes is what the upstream connection's parser reads, trailers included.
    @Test func theSynthesizedResponseParsesWithItsTrailers() throws {
        var bytes = ByteBuffer(string: try synthesize([
            (HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")]), "abc", false),
            (HPACKHeaders([("grpc-status", "5"), ("grpc-message", "not%20found")]), nil, true),
        ]))
        var parser = ResponseHeadParser()
        guard case .head(let head) = parser.parse(&bytes, requestWasHEAD: false) else {
            Issue.record("no head")
            return
        }
        #expect(head.status == 200 && head.framing == .chunked)
        var decoder = ChunkedDecoder(keepsTrailers: true)
        var body = ""
        try decoder.decode(&bytes) { body += String(buffer: $0) }
        #expect(body == "abc" && decoder.isComplete)
        let trailers = ChunkedDecoder.fields(ofLines: decoder.trailerLines)
        #expect(trailers.map { "\($0.name)=\($0.value)" } == ["grpc-status=5", "grpc-message=not%20found"])
    }

    // MARK: - Trailers back to an HTTP/2 client

    @Test func aChunkedResponsesTrailersEndTheClientsStream() throws {
        var translator = ResponseTranslator(requestWasHEAD: false)
        var out: [String] = []
        try translator.feed(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "3\r\nabc\r\n0\r\nGrpc-Status: 0\r\nConnection: x\r\n\r\n")) { out.append(render($0)) }
        #expect(out == ["H :status: 200, content-type: application/grpc", "D abc", "H! grpc-status: 0"])
        #expect(translator.isComplete)
    }
}
