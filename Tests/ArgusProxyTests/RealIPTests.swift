@testable import ArgusProxy
import ArgusEvents
import ArgusHTTP
import NIOCore
import Testing

/// kong.conf's `real_ip_header`/`real_ip_recursive` with `trusted_ips`, as nginx's realip module
/// resolves them (`ngx_http_get_forwarded_addr`): for a trusted peer only, addresses taken from
/// the right.
@Suite struct RealIPTests {
    let trusted = try! TrustedIPs(parsing: "10.0.0.0/8, 192.168.1.1")

    func head(_ fields: String) throws -> RequestHead {
        var parser = RequestHeadParser()
        var bytes = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\(fields)\r\n")
        guard case .head(let head) = parser.parse(&bytes) else { throw AccessPipelineTests.TestFailure.notAHead }
        return head
    }

    func real(_ fields: String, header: String = "X-Real-IP", recursive: Bool = false) throws -> String? {
        RealIP.address(try head(fields), settings: RealIPSettings(header: header, recursive: recursive), trusted: trusted)?.text
    }

    @Test func kongsDefaultIsXRealIP() throws {
        #expect(try real("X-Real-IP: 203.0.113.9\r\nX-Forwarded-For: 198.51.100.1\r\n") == "203.0.113.9")
        #expect(try real("X-Forwarded-For: 198.51.100.1\r\n") == nil)
        #expect(try real("X-Real-IP: not-an-address\r\n") == nil)
        #expect(try real("X-Real-IP: 2001:db8::1\r\n") == "2001:db8::1")
    }

    @Test func xForwardedForTakesTheLastAddressUnlessRecursive() throws {
        let fields = "X-Forwarded-For: 203.0.113.9, 198.51.100.1, 10.0.0.2\r\n"
        // off: the rightmost address, whoever it is
        #expect(try real(fields, header: "X-Forwarded-For") == "10.0.0.2")
        // on: the rightmost address that is not a trusted proxy
        #expect(try real(fields, header: "X-Forwarded-For", recursive: true) == "198.51.100.1")
        // every one trusted: the leftmost
        #expect(try real("X-Forwarded-For: 10.1.1.1, 192.168.1.1\r\n", header: "X-Forwarded-For", recursive: true) == "10.1.1.1")
        // several fields are one list, in order
        #expect(try real("X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-For: 10.0.0.3\r\n", header: "x-forwarded-for", recursive: true)
            == "203.0.113.9")
        // an address that does not parse leaves the peer's in place
        #expect(try real("X-Forwarded-For: 203.0.113.9, junk\r\n", header: "X-Forwarded-For") == nil)
    }

    @Test func anyHeaderNameMayCarryTheAddress() throws {
        #expect(try real("CF-Connecting-IP: 203.0.113.77\r\n", header: "CF-Connecting-IP") == "203.0.113.77")
    }

    @Test func onlyATrustedPeersHeaderCounts() throws {
        let untrusted = ClientFacts(ip: "203.0.113.200")
        let settings = RealIPSettings(header: "X-Forwarded-For")
        let head = try head("X-Forwarded-For: 198.51.100.1\r\n")
        #expect(untrusted.behind(head, settings: settings, trusted: trusted).ip == "203.0.113.200")
        var peer = ClientFacts(ip: "10.0.0.1")
        peer.peerTrusted = true
        let facts = peer.behind(head, settings: settings, trusted: trusted)
        #expect(facts.ip == "198.51.100.1" && facts.address.address.bytes.suffix(4) == [198, 51, 100, 1] && facts.address.family == .ipv4 && facts.peerTrusted)
    }
}
