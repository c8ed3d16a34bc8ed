import Testing

@testable import ArgusProxy

@Suite("the heads recorded in a request's details")
struct DetailHeadTests {
    private func head(_ text: String) -> String {
        Array(text.utf8).withUnsafeBytes { String(decoding: LoopContext.headOnly($0), as: UTF8.self) }
    }

    @Test("a response buffer is cut after its empty line, whatever follows")
    func headOnly() {
        #expect(head("HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody\r\n\r\nmore") == "HTTP/1.1 200 OK\r\nA: 1\r\n\r\n")
        #expect(head("HTTP/1.1 204 No Content\r\n\r\n") == "HTTP/1.1 204 No Content\r\n\r\n")
        // bare LFs and a lone CRLF are not the end of the head
        #expect(head("HTTP/1.1 200 OK\nA: 1\n\nB: 2\r\n\r\n") == "HTTP/1.1 200 OK\nA: 1\n\nB: 2\r\n\r\n")
        #expect(head("HTTP/1.1 200 OK\r\nA: 1\r\n") == "HTTP/1.1 200 OK\r\nA: 1\r\n")
        #expect(head("\r\n\r\n") == "\r\n\r\n")
        #expect(head("\n") == "\n")
        #expect(head("") == "")
    }

    @Test func requestTarget() {
        let target = Array("GET /a?b HTTP/1.1\r\n".utf8).withUnsafeBytes { String(decoding: LoopContext.requestTarget($0), as: UTF8.self) }
        #expect(target == "/a?b")
    }
}
