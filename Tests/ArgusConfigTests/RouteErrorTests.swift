import Testing
@testable import ArgusConfig

@Suite struct RouteErrorTests {
    static let cases: [ErrorCase] = [
        ErrorCase("routes: [{name: r, protocols: [http]}]", "routes[0]",
                  "must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"),
        // the default protocols include https, so Kong asks for snis too
        ErrorCase("routes: [{name: r}]", "routes[0]",
                  "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"),
        ErrorCase("routes: [{protocols: [https]}]", "routes[0]",
                  "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"),
        ErrorCase("routes: [{protocols: [grpc]}]", "routes[0]", "must set one of 'hosts', 'headers', 'paths' when 'protocols' is 'grpc'"),
        ErrorCase("routes: [{protocols: [tcp]}]", "routes[0]", "must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp' or 'tls'"),
        ErrorCase("routes: [{paths: [foo]}]", "routes[0].paths[0]", "should start with: / (fixed path) or ~/ (regex path)"),
        ErrorCase("routes: [{paths: [/a//b]}]", "routes[0].paths[0]", "must not have empty segments"),
        ErrorCase("routes: [{paths: [\"\"]}]", "routes[0].paths[0]", "length must be at least 1"),
        ErrorCase("routes: [{paths: [/ok, /a/./b]}]", "routes[0].paths[1]",
                  "non-normalized path, consider use '/a/b' instead"),
        ErrorCase("routes: [{paths: [/a%2]}]", "routes[0].paths[0]", "invalid url-encoded value: '%2'"),
        ErrorCase("routes: [{paths: /a}]", "routes[0].paths", "expected an array"),
        ErrorCase("routes: [{hosts: [\"*.a.*\"]}]", "routes[0].hosts[0]", "invalid wildcard: must have at most one wildcard"),
        ErrorCase("routes: [{hosts: [\"a.*.com\"]}]", "routes[0].hosts[0]", "invalid wildcard: must be placed at leftmost or rightmost label"),
        ErrorCase("routes: [{hosts: [\"bad host\"]}]", "routes[0].hosts[0]", "invalid hostname: bad host"),
        ErrorCase("routes: [{hosts: [\"a.com:99999\"]}]", "routes[0].hosts[0]", "invalid port number"),
        ErrorCase("routes: [{methods: [get]}]", "routes[0].methods[0]", "invalid value: get"),
        ErrorCase("routes: [{methods: GET}]", "routes[0].methods", "expected a set"),
        ErrorCase("routes: [{headers: {Host: [a]}}]", "routes[0].headers.Host",
                  "cannot contain 'host' header, which must be specified in the 'hosts' attribute"),
        ErrorCase("routes: [{headers: {\"x y\": [a]}}]", "routes[0].headers.x y",
                  "bad header name 'x y', allowed characters are A-Z, a-z, 0-9, '_', and '-'"),
        ErrorCase("routes: [{headers: [a]}]", "routes[0].headers", "expected a map"),
        ErrorCase("routes: [{headers: {x: a}}]", "routes[0].headers.x", "expected an array"),
        ErrorCase("routes: [{protocols: [http, tcp], paths: [/]}]", "routes[0].protocols",
                  "these sets are mutually exclusive: ('http', 'https'), ('tcp', 'tls', 'udp')"),
        ErrorCase("routes: [{protocols: [], paths: [/]}]", "routes[0].protocols", "length must be at least 1"),
        ErrorCase("routes: [{protocols: [ws], paths: [/]}]", "routes[0].protocols[0]",
                  "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"),
        ErrorCase("routes: [{paths: [/], https_redirect_status_code: 500}]", "routes[0].https_redirect_status_code",
                  "expected one of: 426, 301, 302, 307, 308"),
        ErrorCase("routes: [{paths: [/], path_handling: v2}]", "routes[0].path_handling", "expected one of: v0, v1"),
        ErrorCase("routes: [{paths: [/], regex_priority: high}]", "routes[0].regex_priority", "expected an integer"),
        ErrorCase("routes: [{paths: [/], strip_path: null}]", "routes[0].strip_path", "required field missing"),
        ErrorCase("routes: [{paths: [/], preserve_host: 1}]", "routes[0].preserve_host", "expected a boolean"),
        ErrorCase("routes: [{protocols: [http], paths: [/], snis: [a.com]}]", "routes[0].snis",
                  "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'"),
        ErrorCase("routes: [{protocols: [https], snis: [1.2.3.4]}]", "routes[0].snis[0]", "must not be an IP"),
        ErrorCase("routes: [{protocols: [https], snis: [\"a.com:443\"]}]", "routes[0].snis[0]", "must not have a port"),
        ErrorCase("routes: [{paths: [/], sources: [{ip: 1.2.3.4}]}]", "routes[0].sources",
                  "cannot set 'sources' when 'protocols' is 'http' or 'https'"),
        ErrorCase("routes: [{protocols: [grpc], paths: [/], strip_path: true}]", "routes[0].strip_path",
                  "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"),
        ErrorCase("routes: [{protocols: [grpc], paths: [/], methods: [GET]}]", "routes[0].methods",
                  "cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"),
        ErrorCase("routes: [{protocols: [tcp], paths: [/], sources: [{port: 80}]}]", "routes[0].paths",
                  "cannot set 'paths' when 'protocols' is 'tcp' or 'tls'"),
        ErrorCase("routes: [{protocols: [tcp], sources: [{ip: nope}]}]", "routes[0].sources[0].ip", "invalid ip or cidr range: 'nope'"),
        ErrorCase("routes: [{protocols: [tcp], sources: [{}]}]", "routes[0].sources[0]",
                  "at least one of these fields must be non-empty: 'ip', 'port'"),
        ErrorCase("routes: [{protocols: [tcp], destinations: [{port: 70000}]}]", "routes[0].destinations[0].port",
                  "value should be between 0 and 65535"),
        ErrorCase("routes: [{service: nope, paths: [/]}]", "routes[0].service", "invalid reference 'service: nope' (no such entry in 'services')"),
        ErrorCase("routes: [{service: {}, paths: [/]}]", "routes[0].service.id", "required field missing"),
        ErrorCase("routes: [{service: {id: 12}, paths: [/]}]", "routes[0].service.id", "expected a string"),
        ErrorCase("routes: [{service: {id: x}, paths: [/]}]", "routes[0].service.id", "expected a valid UUID"),
        ErrorCase("routes: [{service: {name: s, port: 1}, paths: [/]}]\nservices: [{name: s, host: h}]", "routes[0].service.port", "unknown field"),
        ErrorCase("routes: [{service: 5, paths: [/]}]", "routes[0].service", "expected a string"),
        ErrorCase("services: [{host: h, routes: [{service: x, paths: [/]}]}]", "services[0].routes[0].service", "value must be null"),
        ErrorCase("services: [{host: h, routes: {paths: [/]}}]", "services[0].routes", "expected an array"),
        ErrorCase("routes: [{name: r, paths: [/a]}, {name: r, paths: [/b]}]", "routes[1]",
                  "uniqueness violation: 'routes' entity with name set to 'r' already declared"),
    ]

    @Test(arguments: cases) func rejects(_ c: ErrorCase) {
        #expect(errors(c.document) == c.expected)
    }

    @Test func regexPathsMustCompile() {
        let found = errors("_format_version: \"3.0\"\nroutes: [{paths: [\"~/users/(foo/profile\"]}]")
        #expect(found.count == 1)
        #expect(found.first?.path == "routes[0].paths[0]")
        #expect(found.first?.message.hasPrefix("invalid regex: '/users/(foo/profile' (") == true)
    }

    @Test func headerRegexValuesMustCompile() {
        let found = errors("_format_version: \"3.0\"\nroutes: [{headers: {x-v: [\"~*(a\"]}}]")
        #expect(found.first?.path == "routes[0].headers.x-v[0]")
        #expect(found.first?.message.hasPrefix("invalid regex: '(a'") == true)
    }

    @Test func routesReferenceServicesByNameIdOrRecord() throws {
        let config = try load("""
            _format_version: "3.0"
            services: [{name: s, host: h, id: 0a7b6c5d-1234-4abc-9def-0123456789ab}]
            routes:
              - { service: s, paths: [/a] }
              - { service: 0a7b6c5d-1234-4abc-9def-0123456789ab, paths: [/b] }
              - { service: { id: 0a7b6c5d-1234-4abc-9def-0123456789ab }, paths: [/c] }
              - { service: { name: s }, paths: [/d] }
              - { paths: [/e] }
              - { protocols: [grpc], paths: [/f] }
            """)
        #expect(config.routes.map(\.serviceID) == [String?](repeating: "0a7b6c5d-1234-4abc-9def-0123456789ab", count: 4) + [nil, nil])
        #expect(config.routes[5].stripPath == false)
    }
}
