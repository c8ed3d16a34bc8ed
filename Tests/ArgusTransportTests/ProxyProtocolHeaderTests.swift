import ArgusTransport
import NIOCore
import Testing

/// HAProxy's PROXY protocol (versions 1 and 2), as a load balancer sends it before a connection's bytes.
@Suite struct ProxyProtocolHeaderTests {
    func parse(_ bytes: [UInt8]) -> ProxyProtocolHeader.Result {
        ProxyProtocolHeader.parse(ByteBuffer(bytes: bytes))
    }

    @Test func versionOneLines() {
        let line = Array("PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n".utf8)
        #expect(parse(line + Array("GET /".utf8)) == .header(source: ("203.0.113.7", 56324), length: line.count))
        let six = Array("PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n".utf8)
        #expect(parse(six) == .header(source: ("2001:db8::1", 4000), length: six.count))
        #expect(parse(Array("PROXY UNKNOWN\r\n".utf8)) == .header(source: nil, length: 15))
        #expect(parse(Array("PROXY TCP4 203.0.11".utf8)) == .needMore)
        #expect(parse(Array("PRO".utf8)) == .needMore)
        #expect(parse(Array("GET / HTTP/1.1\r\n".utf8)) == .invalid("not a PROXY protocol header"))
        #expect(parse(Array("PROXY TCP4 203.0.113.7 10.0.0.1 56324\r\n".utf8)) == .invalid("bad PROXY v1 line"))
        #expect(parse(Array("PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n".utf8)) == .invalid("bad PROXY v1 address family"))
        #expect(parse(Array("PROXY TCP4 203.0.113.7 10.0.0.1 70000 443\r\n".utf8)) == .invalid("bad PROXY v1 line"))
        #expect(parse(Array("PROXY TCP4 203.0.113.7 10.0.0.1 1 2\n".utf8)) == .invalid("bad PROXY v1 line"))
        #expect(parse(Array(("PROXY " + String(repeating: "x", count: 120)).utf8)) == .invalid("PROXY v1 line too long"))
    }

    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    @Test func versionTwoHeaders() {
        // PROXY, TCP over IPv4, 12 address bytes and a 3-byte TLV after them
        let v4 = Self.signature + [0x21, 0x11, 0x00, 15, 198, 51, 100, 9, 10, 0, 0, 1, 0x1F, 0x90, 0x01, 0xBB, 0x04, 0x00, 0x00]
        #expect(parse(v4 + [0x16, 0x03]) == .header(source: ("198.51.100.9", 8080), length: v4.count))
        #expect(parse(Array(v4.prefix(20))) == .needMore)
        var address6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [0x05]
        address6 += Array(repeating: 0, count: 16) + [0x30, 0x39, 0x00, 0x50]
        #expect(parse(Self.signature + [0x21, 0x21, 0x00, 36] + address6) == .header(source: ("2001:db8::5", 12345), length: 52))
        // LOCAL (a health check of the balancer's own): no client to name
        #expect(parse(Self.signature + [0x20, 0x00, 0x00, 0x00]) == .header(source: nil, length: 16))
        #expect(parse(Self.signature + [0x31, 0x11, 0x00, 0x00]) == .invalid("bad PROXY v2 version"))
        #expect(parse(Self.signature + [0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4]) == .invalid("PROXY v2 addresses cut short"))
        #expect(parse([0x0D, 0x0A, 0x0D, 0x0A, 0x01]) == .invalid("not a PROXY protocol header"))
    }
}
