import Testing
@testable import ArgusConfig

@Suite struct ServiceErrorTests {
    static let uuid = "8a7b6c5d-1234-4abc-9def-0123456789ab"

    static let cases: [ErrorCase] = [
        ErrorCase("services: [{name: s}]", "services[0].host", "required field missing"),
        ErrorCase("services: [{host: h, hots: x}]", "services[0].hots", "unknown field"),
        ErrorCase("services: [{host: h, port: abc}]", "services[0].port", "expected an integer"),
        ErrorCase("services: [{host: h, port: 80.5}]", "services[0].port", "expected an integer"),
        ErrorCase("services: [{host: h, port: 70000}]", "services[0].port", "value should be between 0 and 65535"),
        ErrorCase("services: [{host: h, retries: -1}]", "services[0].retries", "value should be between 0 and 32767"),
        ErrorCase("services: [{host: h, connect_timeout: 0}]", "services[0].connect_timeout", "value should be between 1 and 2147483646"),
        ErrorCase("services: [{host: h, protocol: ftp}]", "services[0].protocol",
                  "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"),
        ErrorCase("services: [{host: h, path: v1}]", "services[0].path", "should start with: /"),
        ErrorCase("services: [{host: h, path: /a//b}]", "services[0].path", "must not have empty segments"),
        ErrorCase("services: [{host: h, path: \"/a b\"}]", "services[0].path",
                  "invalid path: '/a b' (characters outside of the reserved list of RFC 3986 found)"),
        ErrorCase("services: [{host: h, path: /a%zz}]", "services[0].path", "invalid url-encoded value: '%zz'"),
        ErrorCase("services: [{host: \"bad host\"}]", "services[0].host", "invalid value: bad host"),
        ErrorCase("services: [{host: \"example.com:80\"}]", "services[0].host", "must not have a port"),
        ErrorCase("services: [{host: h, name: \"my svc\"}]", "services[0].name",
                  "invalid value 'my svc': the only accepted ascii characters are alphanumerics or ., -, _, and ~"),
        ErrorCase("services: [{host: h, name: \"\"}]", "services[0].name", "length must be at least 1"),
        ErrorCase("services: [{host: h, name: 5}]", "services[0].name", "expected a string"),
        ErrorCase("services: [{host: h, enabled: \"yes please\"}]", "services[0].enabled", "expected a boolean"),
        ErrorCase("services: [{host: h, tags: x}]", "services[0].tags", "expected a set"),
        ErrorCase("services: [{host: h, tags: [\"a,b\"]}]", "services[0].tags[0]",
                  "invalid tag 'a,b': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"),
        ErrorCase("services: [{host: h, ca_certificates: x}]", "services[0].ca_certificates", "expected an array"),
        ErrorCase("services: [{host: h, tls_verify: true}]", "services[0].tls_verify", "value must be null"),
        ErrorCase("services: [{host: h, protocol: grpc, path: /x}]", "services[0].path", "value must be null"),
        ErrorCase("services: [{host: h, protocol: https, tls_verify_depth: 65}]", "services[0].tls_verify_depth",
                  "value should be between 0 and 64"),
        ErrorCase("services: [{host: h, protocol: https, ca_certificates: [\(uuid)]}]", "services[0].ca_certificates[0]",
                  "invalid reference 'ca_certificates: \(uuid)' (no such entry in 'ca_certificates')"),
        ErrorCase("services: [{host: h, protocol: https, client_certificate: {id: \(uuid)}}]", "services[0].client_certificate",
                  "invalid reference 'client_certificate: {\"id\":\"\(uuid)\"}' (no such entry in 'certificates')"),
        ErrorCase("services: [{host: h, id: not-a-uuid}]", "services[0].id", "expected a valid UUID"),
        ErrorCase("services: [{host: h, created_at: 0}]", "services[0].created_at", "expected a valid timestamp"),
        ErrorCase("services: [{url: \"http://a\", host: b}]", "services[0].url",
                  "only one or none of these fields must be set: 'url', 'host'"),
        ErrorCase("services: [{url: /just/a/path}]", "services[0].url", "host: required field missing"),
        ErrorCase("services: [{url: \"http://a:x/\"}]", "services[0].url", "port: expected an integer"),
        ErrorCase("services: [{url: \"ftp://a\"}]", "services[0].url",
                  "protocol: expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"),
        ErrorCase("services: [{url: 5}]", "services[0].url", "expected a string"),
        ErrorCase("services: [{name: s, host: a}, {name: s, host: b}]", "services[1]",
                  "uniqueness violation: 'services' entity with name set to 's' already declared"),
        ErrorCase("services: [{id: \(uuid), name: a, host: a}, {id: \(uuid), name: b, host: b}]", "services[1]",
                  "uniqueness violation: 'services' entity with primary key set to '\(uuid)' already declared"),
    ]

    @Test(arguments: cases) func rejects(_ c: ErrorCase) {
        #expect(errors(c.document) == c.expected)
    }

    @Test func urlShorthandKeepsUserinfoQueryAndIPv6Out() throws {
        let config = try load("""
            _format_version: "3.0"
            services:
              - { name: a, url: "https://user:pw@example.com/p/q?x=1#frag" }
              - { name: b, url: "http://[::1]:8080" }
            """)
        #expect(config.services.map(\.host) == ["example.com", "::1"])
        #expect(config.services.map(\.port) == [443, 8080])
        #expect(config.services.map(\.path) == ["/p/q", nil])
        #expect(config.services.map(\.protocol) == ["https", "http"])
    }

    /// Kong's schema takes tcp, tls, udp… services; Argus refuses those it can not proxy yet, at
    /// load, rather than answering every request 502. gRPC services are proxied.
    @Test func aServiceArgusCanNotProxyIsRefusedAtLoad() throws {
        #expect(errors("_format_version: \"3.0\"\nservices: [{name: t, url: \"tls://example.com:9000\"}]").map { "\($0.path): \($0.message)" }
            == ["services[0].url: protocol: Argus can not proxy 'tls' services yet (only http, https, grpc and grpcs)"])
        #expect(errors("_format_version: \"3.0\"\nservices: [{name: t, host: h, protocol: tcp}]").map { "\($0.path): \($0.message)" }
            == ["services[0].protocol: Argus can not proxy 'tcp' services yet (only http, https, grpc and grpcs)"])
        let config = try load("_format_version: \"3.0\"\nservices: [{name: g, url: \"grpc://example.com:50051\"}, {name: s, url: \"grpcs://example.com\"}]")
        #expect(config.services.map(\.protocol) == ["grpc", "grpcs"])
        #expect(config.services.map(\.port) == [50051, 80])
        // Kong: a path on a grpc service is refused
        #expect(errors("_format_version: \"3.0\"\nservices: [{name: g, host: h, protocol: grpc, path: /x}]").map { "\($0.path): \($0.message)" }
            == ["services[0].path: value must be null"])
    }
}
