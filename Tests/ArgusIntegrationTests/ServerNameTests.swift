import Testing

@testable import ArgusProxy
import ArgusTransport

/// The SNI sent to an https upstream, from the Host sent upstream.
@Suite("TLS server name from the upstream Host")
struct ServerNameTests {
    @Test(arguments: [
        ("api.example.com", "api.example.com"),
        ("api.example.com:8443", "api.example.com"),
        ("API.Example.com.", "api.example.com"),
        ("api.example.com.:443", "api.example.com"),
        ("localhost", "localhost"),
    ])
    func names(host: String, expected: String) {
        #expect(UpstreamTLS.serverName(forHost: host) == expected)
    }

    @Test(arguments: ["10.0.0.1", "10.0.0.1:8443", "[2001:db8::1]:8443", "2001:db8::1", "2001:db8::1:8443", "", ":443"])
    func addressesHaveNoServerName(host: String) {
        #expect(UpstreamTLS.serverName(forHost: host) == nil)
    }
}
