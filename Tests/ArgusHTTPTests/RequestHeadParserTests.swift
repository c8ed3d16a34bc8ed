import NIOCore
import Testing

@testable import ArgusHTTP

@Suite("RequestHeadParser")
struct RequestHeadParserTests {
    private func parse(_ text: String) -> (RequestHeadParser.Result, ByteBuffer) {
        var parser = RequestHeadParser()
        var buffer = ByteBuffer(string: text)
        let result = parser.parse(&buffer)
        return (result, buffer)
    }

    @Test func parsesAnOriginFormRequest() throws {
        let (result, rest) = parse("GET /a/b?x=1&y HTTP/1.1\r\nHost: example.com:8080\r\nX-A:  v  \r\nContent-Length: 3\r\n\r\nabc")
        guard case .head(let head) = result else { Issue.record("expected a head, got \(result)"); return }
        #expect(head.methodString == "GET")
        #expect(head.string(head.path) == "/a/b")
        #expect(head.string(head.query) == "?x=1&y")
        #expect(head.hostString == "example.com")
        #expect(head.hostPort == 8080)
        #expect(head.minorVersion == 1)
        #expect(head.keepAlive)
        #expect(head.framing == .length(3))
        #expect(head.values(forLowercasedName: "x-a") == ["v"])
        #expect(String(buffer: rest) == "abc")
    }

    @Test func absoluteFormTakesHostFromTheTarget() throws {
        let (result, _) = parse("GET http://target.example/p?q HTTP/1.1\r\nHost: other\r\n\r\n")
        guard case .head(let head) = result else { Issue.record("\(result)"); return }
        #expect(head.hostString == "target.example")
        #expect(head.string(head.path) == "/p")
        #expect(head.string(head.query) == "?q")
    }

    @Test func connectionTokensDecideKeepAliveAndNominateHeaders() throws {
        let (r1, _) = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        guard case .head(let h1) = r1 else { Issue.record("\(r1)"); return }
        #expect(h1.keepAlive)
        #expect(h1.host.isEmpty)
        let (r2, _) = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Foo\r\n\r\n")
        guard case .head(let h2) = r2 else { Issue.record("\(r2)"); return }
        #expect(!h2.keepAlive)
        #expect(h2.connectionNominated == ["x-foo"])
    }

    @Test func incrementalInputNeedsMoreUntilTheEmptyLine() {
        var parser = RequestHeadParser()
        var buffer = ByteBuffer()
        let text = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        for (i, byte) in text.enumerated() {
            buffer.writeInteger(byte)
            let result = parser.parse(&buffer)
            if i < text.count - 1 {
                guard case .needMore = result else { Issue.record("byte \(i): \(result)"); return }
            } else {
                guard case .head = result else { Issue.record("final: \(result)"); return }
            }
        }
    }

    @Test func leadingEmptyLinesAreIgnored() {
        let (result, _) = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        guard case .head = result else { Issue.record("\(result)"); return }
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", HTTPParseError.duplicateContentLength),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", .contentLengthWithTransferEncoding),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", .unsupportedTransferEncoding),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", .whitespaceBeforeColon),
        ("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", .obsFold),
        ("GET / HTTP/1.1\nHost: a\r\n\r\n", .bareLineEnding),
        ("GET / HTTP/1.1\r\n\r\n", .missingHost),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", .duplicateHost),
        ("GET / HTTP/3.0\r\nHost: a\r\n\r\n", .unsupportedVersion),
        ("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: \u{7F}\r\n\r\n", .invalidFieldValue),
        ("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", .badRequestLine),
    ])
    func rejects(_ input: String, _ expected: HTTPParseError) {
        let (result, _) = parse(input)
        guard case .error(let error) = result else { Issue.record("accepted: \(input.debugDescription)"); return }
        #expect(error == expected)
    }
}

@Suite("ASCII byte classes")
struct ASCIITests {
    @Test func tokenMaskMatchesRFC9110() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(ASCII.isToken(byte) == tchar.contains(byte), "byte \(byte)")
            #expect(ASCII.isFieldValue(byte) == (byte == 9 || (byte >= 32 && byte != 127)))
            let hex = Int(String(UnicodeScalar(byte)), radix: 16) ?? -1
            #expect(ASCII.hexValue(byte) == (byte < 128 ? hex : -1), "hex \(byte)")
        }
    }
}
