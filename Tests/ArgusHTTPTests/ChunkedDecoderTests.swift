import NIOCore
import Testing

@testable import ArgusHTTP

@Suite("ChunkedDecoder")
struct ChunkedDecoderTests {
    private func decodeByteByByte(_ text: String) throws -> (String, Bool, String) {
        var decoder = ChunkedDecoder()
        var out = ""
        var leftover = ByteBuffer()
        for byte in text.utf8 {
            leftover.writeInteger(byte)
            if decoder.isComplete { continue }
            try decoder.decode(&leftover) { out += String(buffer: $0) }
        }
        return (out, decoder.isComplete, String(buffer: leftover))
    }

    @Test func decodesAcrossEveryByteBoundary() throws {
        let (body, complete, rest) = try decodeByteByByte("5;a=b\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\nX-U:\r\n\r\nNEXT")
        #expect(body == "hello0123456789")
        #expect(complete)
        #expect(rest == "NEXT")
    }

    @Test(arguments: [
        "zz\r\n", "\r\n", " 5\r\n", "5\nhello", "5\r\nhelloX\r\n", "1234567890abcdef0\r\n", "5;\u{1}\r\n",
        // A trailer section holds field lines only: a request line there (a client that left out
        // the final CRLF, or a smuggling attempt) is an error, not a trailer to skip.
        "1\r\na\r\n0\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n", "0\r\nX-T : 1\r\n\r\n", "0\r\n: 1\r\n\r\n",
        "0\r\nX-T: a\u{0}b\r\n\r\n", "0\r\n folded\r\n\r\n",
    ])
    func rejectsMalformedFraming(_ text: String) {
        #expect(throws: HTTPParseError.badChunk) { _ = try decodeByteByByte(text) }
    }
}
