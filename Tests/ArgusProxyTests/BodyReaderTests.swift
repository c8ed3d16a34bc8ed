import ArgusHTTP
import NIOCore
import Testing

@testable import ArgusProxy

@Suite struct BodyReaderTests {
    func read(_ reader: inout BodyReader, _ text: String) -> (BodyReader.Progress, String, String) {
        var buffer = ByteBuffer(string: text)
        var out = ""
        let progress = reader.read(&buffer) { out += String(buffer: $0) }
        return (progress, out, String(buffer: buffer))
    }

    @Test func aContentLengthBodyEndsAtItsLengthAndLeavesThePipelinedRequest() {
        var reader = BodyReader(.length(5))
        #expect(read(&reader, "he") == (.needMore, "he", ""))
        #expect(reader.remainingLength == 3)
        #expect(read(&reader, "lloGET / HTTP/1.1\r\n") == (.complete, "llo", "GET / HTTP/1.1\r\n"))
        #expect(reader.isComplete && reader.bytesRead == 5)
    }

    @Test func aChunkedBodyIsDecodedAcrossReads() {
        var reader = BodyReader(.chunked)
        #expect(read(&reader, "5\r\nhel") == (.needMore, "hel", ""))
        #expect(read(&reader, "lo\r\n0\r\n\r\nNEXT") == (.complete, "lo", "NEXT"))
        #expect(reader.bytesRead == 5)
    }

    @Test func noBodyIsCompleteAtOnce() {
        var none = BodyReader(.none)
        #expect(none.isComplete)
        #expect(read(&none, "GET /") == (.complete, "", "GET /"))
        let zero = BodyReader(.length(0))
        #expect(zero.isComplete)
    }

    @Test func theSliceThatCrossesTheLimitIsNotDelivered() {
        var reader = BodyReader(.chunked, limit: 6)
        #expect(read(&reader, "4\r\nabcd\r\n").0 == .needMore)
        let (progress, out, _) = read(&reader, "4\r\nefgh\r\n")
        #expect(progress == .overLimit && out.isEmpty && reader.bytesRead == 4)
    }

    @Test func brokenChunkedFramingIsMalformed() {
        var reader = BodyReader(.chunked)
        #expect(read(&reader, "zz\r\n").0 == .malformed)
    }
}
