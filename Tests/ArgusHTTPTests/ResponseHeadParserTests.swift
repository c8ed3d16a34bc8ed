import NIOCore
import Testing

@testable import ArgusHTTP

@Suite("ResponseHeadParser")
struct ResponseHeadParserTests {
    private func parse(_ text: String, head: Bool = false) -> ResponseHeadParser.Result {
        var parser = ResponseHeadParser()
        var buffer = ByteBuffer(string: text)
        return parser.parse(&buffer, requestWasHEAD: head)
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, BodyFraming.length(5), true),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, .chunked, true),
        ("HTTP/1.1 200 OK\r\n\r\n", false, .untilClose, false),
        ("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, .length(1), false),
        ("HTTP/1.1 204 No Content\r\n\r\n", false, .none, true),
        ("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", false, .none, true),
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true, .none, true),
        ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", false, .length(1), false),
        ("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, .none, true),
    ])
    func framing(_ text: String, _ isHEAD: Bool, _ framing: BodyFraming, _ keepAlive: Bool) {
        guard case .head(let head) = parse(text, head: isHEAD) else { Issue.record("not parsed: \(text.debugDescription)"); return }
        #expect(head.framing == framing)
        #expect(head.keepAlive == keepAlive)
    }

    @Test func informationalResponsesAreSkipped() {
        var parser = ResponseHeadParser()
        var buffer = ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        guard case .informational(100) = parser.parse(&buffer, requestWasHEAD: false) else { Issue.record("no 100"); return }
        guard case .head(let head) = parser.parse(&buffer, requestWasHEAD: false) else { Issue.record("no 200"); return }
        #expect(head.status == 200)
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    ])
    func rejects(_ text: String) {
        guard case .error = parse(text) else { Issue.record("accepted: \(text.debugDescription)"); return }
    }
}
