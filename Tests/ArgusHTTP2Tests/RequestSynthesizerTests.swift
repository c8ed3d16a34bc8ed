import ArgusHTTP2
import NIOCore
import NIOHPACK
import Testing

@Suite struct RequestSynthesizerTests {
    let allocator = ByteBufferAllocator()

    func head(_ fields: [(String, String)], endStream: Bool = true) throws -> RequestSynthesizer.Head {
        try RequestSynthesizer.head(HPACKHeaders(fields), endStream: endStream, allocator: allocator)
    }

    @Test func requestLineHostAndFieldsInOrder() throws {
        let made = try head([
            (":method", "GET"), (":scheme", "https"), (":path", "/a/b?x=1"), (":authority", "example.com:8443"),
            ("user-agent", "curl"), ("accept", "*/*"),
        ])
        #expect(String(buffer: made.bytes) == "GET /a/b?x=1 HTTP/1.1\r\nhost: example.com:8443\r\nuser-agent: curl\r\naccept: */*\r\n\r\n")
        #expect(made.framing == .none)
        #expect(!made.isHEAD)
    }

    @Test func authorityWinsOverHostAndHostIsKeptWithoutIt() throws {
        let both = try head([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "a.test"), ("host", "b.test")])
        #expect(String(buffer: both.bytes) == "GET / HTTP/1.1\r\nhost: a.test\r\n\r\n")
        let hostOnly = try head([(":method", "GET"), (":scheme", "http"), (":path", "/"), ("host", "b.test")])
        #expect(String(buffer: hostOnly.bytes) == "GET / HTTP/1.1\r\nhost: b.test\r\n\r\n")
    }

    @Test func cookieCrumbsAreJoined() throws {
        let made = try head([(":method", "GET"), (":scheme", "http"), (":path", "/"), ("cookie", "a=1"), ("x", "y"), ("cookie", "b=2")])
        #expect(String(buffer: made.bytes) == "GET / HTTP/1.1\r\nx: y\r\ncookie: a=1; b=2\r\n\r\n")
    }

    @Test func bodyFraming() throws {
        let sized = try head([(":method", "POST"), (":scheme", "http"), (":path", "/"), ("content-length", "5")], endStream: false)
        #expect(sized.framing == .length)
        #expect(!String(buffer: sized.bytes).contains("transfer-encoding"))
        let unsized = try head([(":method", "POST"), (":scheme", "http"), (":path", "/")], endStream: false)
        #expect(unsized.framing == .chunked)
        #expect(String(buffer: unsized.bytes).hasSuffix("transfer-encoding: chunked\r\n\r\n"))
        #expect(try head([(":method", "HEAD"), (":scheme", "http"), (":path", "/")]).isHEAD)
    }

    @Test func chunksAndLastChunkWithTrailers() {
        #expect(String(buffer: RequestSynthesizer.chunk(ByteBuffer(string: "hello world!!!!!!"), allocator: allocator)) == "11\r\nhello world!!!!!!\r\n")
        #expect(String(buffer: RequestSynthesizer.lastChunk(trailers: nil, allocator: allocator)) == "0\r\n\r\n")
        let trailers = HPACKHeaders([("grpc-status", "0"), ("x-bad", "a\r\nb")])
        #expect(String(buffer: RequestSynthesizer.lastChunk(trailers: trailers, allocator: allocator)) == "0\r\ngrpc-status: 0\r\n\r\n")
    }

    @Test func connectUsesTheAuthorityAsTarget() throws {
        let made = try head([(":method", "CONNECT"), (":authority", "db.internal:5432")])
        #expect(String(buffer: made.bytes) == "CONNECT db.internal:5432 HTTP/1.1\r\nhost: db.internal:5432\r\n\r\n")
    }

    @Test(arguments: [
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("x-evil", "a\r\ninjected: 1")],
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("x-nul", "a\u{0}b")],
        [(":method", "G ET"), (":scheme", "http"), (":path", "/")],
        [(":method", "GET"), (":scheme", "http"), (":path", "/a b")],
        [(":method", "GET"), (":scheme", "http"), (":path", "")],
        [(":method", "GET"), (":scheme", "http")],
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "a\tb")],
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":protocol", "websocket")],
        [(":scheme", "http"), (":path", "/")],
    ])
    func refusesWhatCouldNotBeAnHTTP1Head(_ fields: [(String, String)]) {
        #expect(throws: RequestSynthesizer.Malformed.self) { try head(fields) }
    }
}
