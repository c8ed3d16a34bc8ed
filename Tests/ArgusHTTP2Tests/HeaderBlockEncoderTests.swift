@testable import ArgusHTTP2
import NIOCore
import NIOHPACK
import Testing

@Suite struct HeaderBlockEncoderTests {
    @Test func blocksDecodeWithAStandardDecoder() throws {
        let fields: [(String, String)] = [
            (":status", "200"), ("content-type", "application/json"), ("x-kong-request-id", "abc"),
            ("x-long", String(repeating: "z", count: 300)), ("set-cookie", "a=1"), ("via", "1.1 kong/3.9.1"), ("server", ""),
        ]
        var buffer = ByteBuffer()
        HeaderBlockEncoder.encode(HPACKHeaders(fields), into: &buffer)
        var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
        let decoded = try decoder.decodeHeaders(from: &buffer)
        #expect(decoded.map { "\($0.name)=\($0.value)" } == fields.map { "\($0.0)=\($0.1)" })
    }

    @Test func statusesInTheStaticTableAreOneByteAndCookiesNeverIndexed() {
        var status = ByteBuffer()
        HeaderBlockEncoder.encode(HPACKHeaders([(":status", "404")]), into: &status)
        #expect(status.readableBytesView.elementsEqual([0x80 | 13]))
        var other = ByteBuffer()
        HeaderBlockEncoder.encode(HPACKHeaders([(":status", "429")]), into: &other)
        #expect(other.readableBytesView.elementsEqual([0x08, 3] + Array("429".utf8)))  // name index 8, literal value
        var cookie = ByteBuffer()
        HeaderBlockEncoder.encode(HPACKHeaders([("set-cookie", "a=1")]), into: &cookie)
        #expect(cookie.readableBytesView.first == 0x1F)  // never indexed, name index 55 (15 + continuation)
    }

    @Test func integersPastTheirPrefixContinue() {
        var buffer = ByteBuffer()
        HeaderBlockEncoder.writeInteger(1337, prefixBits: 5, flags: 0, into: &buffer)
        #expect(buffer.readableBytesView.elementsEqual([31, 154, 10]))  // RFC 7541 §C.1.2
    }

    @Test func aFloodGuardRefillsWithTime() {
        var guardian = FloodGuard(burst: 2, perSecond: 1)
        let spent = [0, 0, 1, 1_000_000_001, 1_000_000_002].map { guardian.spend(now: $0) }
        #expect(spent == [true, true, false, true, false])
    }
}
