import ArgusApp
import Testing

/// Kong's `proxy_listen` syntax: listeners separated by commas, each with nginx's flags.
@Suite struct ListenAddressTests {
    @Test func flagsAsKongWritesThem() throws {
        let list = try ListenAddress.list(parsing: "0.0.0.0:8000 proxy_protocol, [::1]:8443 http2 ssl proxy_protocol reuseport backlog=16384")
        #expect(list.count == 2)
        #expect(list[0].host == "0.0.0.0" && list[0].port == 8000 && list[0].proxyProtocol && !list[0].ssl)
        #expect(list[1].host == "::1" && list[1].ssl && list[1].http2 && list[1].proxyProtocol)
        #expect(list[1].description == "[::1]:8443 http2 ssl proxy_protocol")
        #expect(try ListenAddress.list(parsing: "off").isEmpty)
        #expect(throws: StartupError.self) { try ListenAddress(parsing: "0.0.0.0:8000 proxyprotocol") }
    }
}
