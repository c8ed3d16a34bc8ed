@testable import ArgusHTTP2
import NIOCore
import Testing

@Suite struct PrefaceAndDefenceTests {
    @Test func prefaceIsDecidedAtTheFirstDifferentByte() {
        #expect(PrefaceSniffer.decide(ByteBuffer(string: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")) == true)
        #expect(PrefaceSniffer.decide(ByteBuffer(string: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\u{12}\u{4}")) == true)
        #expect(PrefaceSniffer.decide(ByteBuffer(string: "PRI * HTTP/2")) == nil)
        #expect(PrefaceSniffer.decide(ByteBuffer(string: "P")) == nil)
        #expect(PrefaceSniffer.decide(ByteBuffer(string: "GET / HTTP/1.1\r\n")) == false)
        #expect(PrefaceSniffer.decide(ByteBuffer(string: "PRX")) == false)
        #expect(PrefaceSniffer.decide(ByteBuffer(string: "PRI * HTTP/1.1\r\n\r\n")) == false)
    }

    @Test func countersCountPerDefence() {
        let counters = HTTP2Counters()
        counters.connectionOpened()
        counters.streamOpened()
        counters.connectionError(.rapidReset)
        counters.streamError(.malformedRequest)
        counters.streamError(.malformedRequest)
        counters.connectionClosed()
        #expect(counters.connectionsAccepted == 1)
        #expect(counters.connectionsOpen == 0)
        #expect(counters.streamsOpened == 1)
        #expect(counters.connectionErrors(.rapidReset) == 1)
        #expect(counters.streamErrors(.malformedRequest) == 2)
        #expect(counters.connectionErrors(.badPreface) == 0)
    }
}
