import ArgusHTTP
import NIOCore
import Testing

@testable import ArgusProxy

@Suite("head writing into a ByteBuffer's free space")
struct HeadBytesTests {
    private static func written(estimate: Int, _ body: (inout HeadBytes) -> Void) -> String {
        var buffer = ByteBuffer(string: "before|")
        buffer.writeHead(estimate: estimate, body)
        return String(buffer: buffer)
    }

    @Test func aHeadLargerThanItsEstimateIsWrittenWholeWithMoreRoom() {
        let line = String(repeating: "x", count: 997)
        for estimate in [0, 1, 64, 100, 1000, 4096] {
            let text = Self.written(estimate: estimate) { out in
                out.append("Name: ")
                out.append(line)
                out.append(byte: UInt8(ascii: "!"))
                out.append("\r\n")
            }
            #expect(text == "before|Name: " + line + "!\r\n", "estimate \(estimate)")
        }
    }

    @Test func piecesOfEveryKind() {
        let text = Self.written(estimate: 16) { out in
            out.append("?")  // a one-character literal
            out.append("héllo")  // not ASCII
            out.append([0x41, 0x42])
            out.append(" ")
            for n in [0, 7, 10, 12_345, Int.max] {
                out.append(decimal: n)
                out.append(",")
            }
            out.append(RequestID(high: 0x0123_4567_89ab_cdef, low: 0xfedc_ba98_7654_3210))
        }
        #expect(text == "before|?hélloAB 0,7,10,12345,\(Int.max),0123456789abcdeffedcba9876543210")
    }

    @Test func anUpstreamHeadWithManyForwardedForLinesIsComplete() throws {
        // Every X-Forwarded-For value is copied a second time (into the one line Argus sends),
        // so such a head is written with the estimate's margin or with the retry.
        let values = (0..<60).map { "10.0.\($0 / 256).\($0 % 256)" }
        var text = "GET /a?b=1 HTTP/1.1\r\nHost: example.test\r\n"
        for value in values { text += "X-Forwarded-For: \(value)\r\n" }
        text += "\r\n"
        var input = ByteBuffer(string: text)
        var parser = RequestHeadParser()
        guard case .head(let head) = parser.parse(&input) else {
            Issue.record("expected a head")
            return
        }
        var out = ByteBuffer()
        UpstreamRequestWriter.write(
            head,
            .init(
                upstreamPath: "/a", hostHeader: "upstream.test", clientIP: "127.0.0.1", peerTrusted: true, listenerPort: 8000,
                strippedPrefix: nil, requestID: RequestID(high: 1, low: 2), viaToken: "kong/3.9.0"),
            into: &out)
        let written = String(buffer: out)
        #expect(written.hasPrefix("GET /a?b=1 HTTP/1.1\r\nHost: upstream.test\r\n"))
        #expect(written.contains("\r\nX-Forwarded-For: " + values.joined(separator: ", ") + ", 127.0.0.1\r\n"))
        #expect(written.contains("\r\nX-Kong-Request-Id: 00000000000000010000000000000002\r\n"))
        #expect(written.hasSuffix("\r\nConnection: keep-alive\r\n\r\n"))
    }
}
