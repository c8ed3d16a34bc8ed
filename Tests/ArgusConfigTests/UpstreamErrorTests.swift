import Testing
@testable import ArgusConfig

@Suite struct UpstreamErrorTests {
    static let cases: [ErrorCase] = [
        ErrorCase("upstreams: [{slots: 100}]", "upstreams[0].name", "required field missing"),
        ErrorCase("upstreams: [{name: 10.0.0.1}]", "upstreams[0].name", "Invalid name ('10.0.0.1'); no ip addresses allowed"),
        ErrorCase("upstreams: [{name: \"a.b:80\"}]", "upstreams[0].name", "Invalid name ('a.b:80'); no port allowed"),
        ErrorCase("upstreams: [{name: \"a b\"}]", "upstreams[0].name", "Invalid name ('a b'); must be a valid hostname"),
        ErrorCase("upstreams: [{name: u, algorithm: random}]", "upstreams[0].algorithm",
                  "expected one of: consistent-hashing, least-connections, round-robin, latency"),
        ErrorCase("upstreams: [{name: u, hash_on: body}]", "upstreams[0].hash_on",
                  "expected one of: none, consumer, ip, header, cookie, path, query_arg, uri_capture"),
        ErrorCase("upstreams: [{name: u, hash_on: header}]", "upstreams[0].hash_on_header", "required field missing"),
        ErrorCase("upstreams: [{name: u, hash_on: ip, hash_fallback: query_arg}]", "upstreams[0].hash_fallback_query_arg", "required field missing"),
        ErrorCase("upstreams: [{name: u, hash_on: cookie}]", "upstreams[0].hash_on_cookie", "required field missing"),
        ErrorCase("upstreams: [{name: u, hash_fallback: ip}]", "upstreams[0].hash_fallback", "expected one of: none"),
        ErrorCase("upstreams: [{name: u, hash_on: ip, hash_fallback: ip}]", "upstreams[0].hash_fallback",
                  "expected one of: none, consumer, header, cookie, path, query_arg, uri_capture"),
        ErrorCase("upstreams: [{name: u, hash_on: header, hash_on_header: x, hash_fallback: header, hash_fallback_header: x}]",
                  "upstreams[0]", "values of these fields must be distinct: 'hash_on_header', 'hash_fallback_header'"),
        ErrorCase("upstreams: [{name: u, hash_on: cookie, hash_on_cookie: \"a b\"}]", "upstreams[0].hash_on_cookie",
                  "bad cookie name 'a b', allowed characters are A-Z, a-z, 0-9, '_', and '-'"),
        ErrorCase("upstreams: [{name: u, hash_on_cookie_path: x}]", "upstreams[0].hash_on_cookie_path", "should start with: /"),
        ErrorCase("upstreams: [{name: u, slots: 5}]", "upstreams[0].slots", "value should be between 10 and 65536"),
        ErrorCase("upstreams: [{name: u, host_header: \"a b\"}]", "upstreams[0].host_header", "invalid hostname: a b"),
        ErrorCase("upstreams: [{name: u, healthchecks: 5}]", "upstreams[0].healthchecks", "expected a record"),
        ErrorCase("upstreams: [{name: u, healthchecks: {foo: 1}}]", "upstreams[0].healthchecks.foo", "unknown field"),
        ErrorCase("upstreams: [{name: u, healthchecks: {threshold: 101}}]", "upstreams[0].healthchecks.threshold",
                  "value should be between 0 and 100"),
        ErrorCase("upstreams: [{name: u, healthchecks: {active: {healthy: {successes: 300}}}}]",
                  "upstreams[0].healthchecks.active.healthy.successes", "value should be between 0 and 255"),
        ErrorCase("upstreams: [{name: u, healthchecks: {active: {unhealthy: {interval: 70000}}}}]",
                  "upstreams[0].healthchecks.active.unhealthy.interval", "value should be between 0 and 65535"),
        ErrorCase("upstreams: [{name: u, healthchecks: {passive: {unhealthy: {http_statuses: [99]}}}}]",
                  "upstreams[0].healthchecks.passive.unhealthy.http_statuses[0]", "value should be between 100 and 999"),
        ErrorCase("upstreams: [{name: u, healthchecks: {active: {concurrency: 0}}}]", "upstreams[0].healthchecks.active.concurrency",
                  "value should be between 1 and 2147483648"),
        ErrorCase("upstreams: [{name: u, healthchecks: {active: {type: udp}}}]", "upstreams[0].healthchecks.active.type",
                  "expected one of: tcp, http, https, grpc, grpcs"),
        ErrorCase("upstreams: [{name: u, healthchecks: {active: {http_path: status}}}]", "upstreams[0].healthchecks.active.http_path",
                  "should start with: /"),
        ErrorCase("upstreams: [{name: u, healthchecks: {active: {https_sni: 1.2.3.4}}}]", "upstreams[0].healthchecks.active.https_sni",
                  "must not be an IP"),
        ErrorCase("upstreams: [{name: u, healthchecks: {active: {timeout: soon}}}]", "upstreams[0].healthchecks.active.timeout",
                  "expected a number"),
        ErrorCase("upstreams: [{name: u}, {name: u}]", "upstreams[1]", "uniqueness violation: 'upstreams' entity with name set to 'u' already declared"),
        ErrorCase("upstreams: [{name: u, targets: [{weight: 1}]}]", "upstreams[0].targets[0].target", "required field missing"),
        ErrorCase("upstreams: [{name: u, targets: [{target: \"bad host\"}]}]", "upstreams[0].targets[0].target",
                  "Invalid target ('bad host'); not a valid hostname or ip address"),
        ErrorCase("upstreams: [{name: u, targets: [{target: a.com, weight: 70000}]}]", "upstreams[0].targets[0].weight",
                  "value should be between 0 and 65535"),
        ErrorCase("upstreams: [{name: u, targets: [{target: a.com, upstream: u}]}]", "upstreams[0].targets[0].upstream", "value must be null"),
        ErrorCase("targets: [{target: a.com}]", "targets[0].upstream", "required field missing"),
        ErrorCase("targets: [{target: a.com, upstream: nope}]", "targets[0].upstream",
                  "invalid reference 'upstream: nope' (no such entry in 'upstreams')"),
    ]

    @Test(arguments: cases) func rejects(_ c: ErrorCase) {
        #expect(errors(c.document) == c.expected)
    }

    @Test func duplicateTargetCollidesOnItsGeneratedID() {
        let upstreamID = EntityIDs.generate(entity: "upstreams", key: "u")
        let id = EntityIDs.generate(entity: "targets", key: "targets:*:\(upstreamID):a.com")
        #expect(errors("_format_version: \"3.0\"\nupstreams: [{name: u, targets: [{target: a.com}, {target: a.com}]}]") == [
            ConfigError(file: "kong.yml", path: "upstreams[0].targets[1]",
                        message: "uniqueness violation: 'targets' entity with primary key set to '\(id)' already declared"),
        ])
    }

    @Test func hashOnForcesTheAlgorithmAsKongsShorthandDoes() throws {
        let config = try load("""
            _format_version: "3.0"
            upstreams:
              - { name: a, hash_on: ip }
              - { name: b, algorithm: consistent-hashing, hash_on: none }
              - { name: c, algorithm: least-connections, hash_on: ip }
              - { name: d, hash_on: header, hash_on_header: X-User, hash_fallback: cookie, hash_on_cookie: sid }
            """)
        #expect(config.upstreams.map(\.algorithm) == ["consistent-hashing", "round-robin", "least-connections", "consistent-hashing"])
        #expect(config.upstreams.map(\.hashOn) == ["ip", "none", "none", "header"])
        #expect(config.upstreams[3].hashOnHeader == "X-User" && config.upstreams[3].hashOnCookie == "sid")
    }
}
