import ArgusApp
import ArgusConfig
import ArgusEvents
import ArgusProxy
import Foundation
import Testing

@Suite("key-auth, basic-auth, acl and ip-restriction through a real gateway")
struct AccessPluginTests {
    static func gateway(
        _ port: Int, plugins: String, consumers: String = AccessPluginTests.consumers,
        settings: (inout GatewaySettings) -> Void = { _ in }
    ) async throws -> GatewayHarness {
        try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes:
                  - name: main
                    paths: ["/"]
            \(consumers)
            plugins:
            \(plugins)
            """, settings: settings)
    }

    static let consumers = """
        consumers:
          - username: alice
            custom_id: a-1
            keyauth_credentials: [{key: alice-key}]
            basicauth_credentials: [{username: alice, password: "open sesame"}]
            acls: [{group: admins}, {group: staff}]
          - username: bob
            keyauth_credentials: [{key: bob-key}]
            acls: [{group: guests}]
          - username: nobody
          - custom_id: anonymous-only
        """

    func lines(_ backend: RawBackend) -> [String] {
        backend.requests.last?.components(separatedBy: "\r\n") ?? []
    }

    @Test func keyAuthFindsTheKeyAndTellsTheUpstreamWho() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: "  - name: key-auth")
        defer { Task { await gw.stop(); await backend.stop() } }

        let missing = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(missing.status == 401)
        #expect(missing.header("WWW-Authenticate") == "Key")
        let id = try #require(missing.header("X-Kong-Request-Id"))
        #expect(missing.bodyString == "{\n  \"message\":\"No API key found in request\",\n  \"request_id\":\"\(id)\"\n}")

        let wrong = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\napikey: nope\r\n\r\n"))
        #expect(wrong.status == 401 && wrong.bodyString.contains("\"message\":\"Unauthorized\""))
        let duplicate = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\napikey: a\r\nApiKey: b\r\n\r\n"))
        #expect(duplicate.status == 401 && duplicate.bodyString.contains("Duplicate API key found"))
        #expect(backend.requests.isEmpty)

        // A client's own X-Consumer-* headers never reach the upstream.
        let ok = try #require(try await gw.request(
            "GET /x HTTP/1.1\r\nHost: x\r\nAPIKEY: alice-key\r\nX-Consumer-ID: forged\r\nX-Anonymous-Consumer: true\r\n\r\n"))
        #expect(ok.status == 200)
        let config = gw.gateway.currentConfig
        let alice = try #require(config.consumers.first { $0.username == "alice" })
        let credential = try #require(config.credentials.first { $0.kind == "keyauth_credentials" && $0.consumerID == alice.id })
        let sent = lines(backend)
        #expect(sent.contains("X-Consumer-ID: \(alice.id)"))
        #expect(sent.contains("X-Consumer-Custom-ID: a-1"))
        #expect(sent.contains("X-Consumer-Username: alice"))
        #expect(sent.contains("X-Credential-Identifier: \(credential.id)"))
        #expect(sent.contains("APIKEY: alice-key"))  // hide_credentials is off
        #expect(!sent.contains("X-Consumer-ID: forged") && !sent.contains { $0.hasPrefix("X-Anonymous-Consumer") })

        // In the query too.
        let query = try #require(try await gw.request("GET /x?apikey=bob-key&a=1 HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(query.status == 200)
        #expect(lines(backend)[0] == "GET /x?apikey=bob-key&a=1 HTTP/1.1")
        #expect(lines(backend).contains("X-Consumer-Username: bob"))
    }

    @Test func keyAuthHidesCredentialsAndHonoursItsOptions() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let plugins = """
              - name: key-auth
                config: {key_names: [x-api-key, token], hide_credentials: true, key_in_header: true, realm: argus, run_on_preflight: false}
            """
        let gw = try await Self.gateway(port, plugins: plugins)
        defer { Task { await gw.stop(); await backend.stop() } }

        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.header("WWW-Authenticate") == "Key realm=\"argus\"")
        #expect(try await gw.request("GET /h HTTP/1.1\r\nHost: x\r\nX-Api-Key: alice-key\r\n\r\n")?.status == 200)
        #expect(!lines(backend).contains { $0.lowercased().hasPrefix("x-api-key") })
        #expect(try await gw.request("GET /q?a=1&token=bob-key&b=2 HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200)
        #expect(lines(backend)[0] == "GET /q?a=1&b=2 HTTP/1.1")
        #expect(try await gw.request("GET /only?token=bob-key HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200)
        #expect(lines(backend)[0] == "GET /only HTTP/1.1")
        // Preflights pass unauthenticated.
        #expect(try await gw.request("OPTIONS /pre HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200)
    }

    @Test func anonymousConsumerStandsInForFailedAuthentication() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let config = try ConfigLoader.parse(text: "_format_version: \"3.0\"\n" + Self.consumers, file: "k.yml")
        let anonymousID = try #require(config.consumers.first { $0.customID == "anonymous-only" }).id
        let gw = try await Self.gateway(port, plugins: "  - name: key-auth\n    config: {anonymous: \(anonymousID)}")
        defer { Task { await gw.stop(); await backend.stop() } }

        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\napikey: wrong\r\n\r\n")?.status == 200)
        let sent = lines(backend)
        #expect(sent.contains("X-Anonymous-Consumer: true"))
        #expect(sent.contains("X-Consumer-ID: \(anonymousID)"))
        #expect(sent.contains("X-Consumer-Custom-ID: anonymous-only"))
        #expect(!sent.contains { $0.hasPrefix("X-Credential-Identifier") })

        // acl on an allow list: the anonymous consumer (no groups, no credential) is 401, as in Kong
        let guarded = try await Self.gateway(
            port, plugins: "  - name: key-auth\n    config: {anonymous: \(anonymousID)}\n  - name: acl\n    config: {allow: [g1]}")
        defer { Task { await guarded.stop() } }
        #expect(try await guarded.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 401)

        let broken = try await Self.gateway(port, plugins: "  - name: key-auth\n    config: {anonymous: ghost}")
        defer { Task { await broken.stop() } }
        let r = try #require(try await broken.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(r.status == 500 && r.bodyString.contains("anonymous consumer ghost is configured but doesn't exist"))
    }

    @Test func basicAuthChecksTheHashedPassword() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: "  - name: basic-auth\n    config: {hide_credentials: true}")
        defer { Task { await gw.stop(); await backend.stop() } }
        func basic(_ text: String) -> String { "Basic " + Data(text.utf8).base64EncodedString() }

        let none = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(none.status == 401 && none.header("WWW-Authenticate") == "Basic realm=\"service\"")
        #expect(none.bodyString.contains("\"message\":\"Unauthorized\""))
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: \(basic("alice:wrong"))\r\n\r\n")?.status == 401)
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: \(basic("mallory:open sesame"))\r\n\r\n")?.status == 401)
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer zzz\r\n\r\n")?.status == 401)
        let ok = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: \(basic("alice:open sesame"))\r\n\r\n"))
        #expect(ok.status == 200)
        #expect(lines(backend).contains("X-Consumer-Username: alice"))
        #expect(lines(backend).contains("X-Credential-Identifier: alice"))  // basic-auth's is the username (Kong)
        #expect(!lines(backend).contains { $0.lowercased().hasPrefix("authorization") })
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nProxy-Authorization: \(basic("alice:open sesame"))\r\n\r\n")?.status == 200)
    }

    @Test func aclAllowsAndDeniesByGroup() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: """
              - name: key-auth
              - name: acl
                config: {allow: [admins]}
            """)
        defer { Task { await gw.stop(); await backend.stop() } }

        let ok = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\napikey: alice-key\r\nX-Consumer-Groups: forged\r\n\r\n"))
        #expect(ok.status == 200)
        #expect(lines(backend).contains("X-Consumer-Groups: admins, staff"))
        #expect(!lines(backend).contains("X-Consumer-Groups: forged"))
        let denied = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\napikey: bob-key\r\n\r\n"))
        #expect(denied.status == 403 && denied.bodyString.contains("\"message\":\"You cannot consume this service\""))
        // Without authentication (key-auth answers first).
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 401)

        let deny = try await Self.gateway(port, plugins: """
              - name: key-auth
              - name: acl
                config: {deny: [guests], hide_groups_header: true}
            """)
        defer { Task { await deny.stop() } }
        #expect(try await deny.request("GET / HTTP/1.1\r\nHost: x\r\napikey: bob-key\r\n\r\n")?.status == 403)
        #expect(try await deny.request("GET / HTTP/1.1\r\nHost: x\r\napikey: alice-key\r\n\r\n")?.status == 200)
        #expect(!lines(backend).contains { $0.hasPrefix("X-Consumer-Groups") })

        // acl alone: nobody identified, 401.
        let alone = try await Self.gateway(port, plugins: "  - name: acl\n    config: {allow: [admins]}")
        defer { Task { await alone.stop() } }
        let r = try #require(try await alone.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(r.status == 401 && r.bodyString.contains("\"message\":\"Unauthorized\""))
    }

    @Test func ipRestrictionDeniesFirstThenAllows() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let denied = try await Self.gateway(port, plugins: "  - name: ip-restriction\n    config: {deny: [127.0.0.0/8]}")
        defer { Task { await denied.stop(); await backend.stop() } }
        let r = try #require(try await denied.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(r.status == 403 && r.bodyString.contains("\"message\":\"IP address not allowed: 127.0.0.1\""))

        let elsewhere = try await Self.gateway(port, plugins: "  - name: ip-restriction\n    config: {allow: [10.0.0.0/8, \"2001:db8::/32\"], status: 401, message: go away}")
        defer { Task { await elsewhere.stop() } }
        let e = try #require(try await elsewhere.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(e.status == 401 && e.bodyString.contains("\"message\":\"go away\""))

        let allowed = try await Self.gateway(port, plugins: "  - name: ip-restriction\n    config: {allow: [127.0.0.1, \"::1\"], deny: [10.1.2.3]}")
        defer { Task { await allowed.stop() } }
        #expect(try await allowed.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200)
        // X-Real-IP from an untrusted peer changes nothing.
        #expect(try await allowed.request("GET / HTTP/1.1\r\nHost: x\r\nX-Real-IP: 10.1.2.3\r\n\r\n")?.status == 200)
        #expect(backend.requests.count == 2)

        // Behind a trusted proxy, the address is X-Real-IP's (nginx's realip with Kong's defaults).
        let yaml = """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes: [{name: main, paths: ["/"]}]
            plugins:
              - name: ip-restriction
                config: {allow: [10.0.0.0/8], deny: [10.1.2.3]}
            """
        let proxied = try await GatewayHarness(yaml: yaml) { $0.proxy.trustedIPs = try! TrustedIPs(parsing: "127.0.0.1") }
        defer { Task { await proxied.stop() } }
        #expect(try await proxied.request("GET / HTTP/1.1\r\nHost: x\r\nX-Real-IP: 10.9.9.9\r\n\r\n")?.status == 200)
        let blocked = try #require(try await proxied.request("GET / HTTP/1.1\r\nHost: x\r\nX-Real-IP: 10.1.2.3\r\n\r\n"))
        #expect(blocked.status == 403 && blocked.bodyString.contains("IP address not allowed: 10.1.2.3"))
        #expect(try await proxied.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 403)
    }

    /// A consumer authenticated by key-auth, with its own rate limit (a consumer-scoped instance)
    /// over the global one: Kong's scoping precedence, resolved once the consumer is known.
    @Test func perConsumerRateLimitAfterKeyAuth() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: """
              - name: key-auth
              - name: rate-limiting
                config: {minute: 100, limit_by: consumer}
              - name: rate-limiting
                consumer: alice
                config: {minute: 2, limit_by: consumer}
            """) { settings in
            // a fixed instant mid-minute: the windows are calendar minutes, and a test crossing one would see fresh counters
            settings.proxy.wallClockMilliseconds = { 1_700_000_030_000 }
        }
        defer { Task { await gw.stop(); await backend.stop() } }
        var alice: [Int] = [], bob: [Int] = []
        for _ in 0..<4 {
            alice.append(try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\napikey: alice-key\r\n\r\n")).status)
            bob.append(try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\napikey: bob-key\r\n\r\n")).status)
        }
        #expect(alice == [200, 200, 429, 429])
        #expect(bob == [200, 200, 200, 200])
        let r = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\napikey: bob-key\r\n\r\n"))
        #expect(r.header("X-RateLimit-Limit-Minute") == "100" && r.header("X-RateLimit-Remaining-Minute") == "95")
    }

    /// The consumer and every rejection are in the events: per-consumer metrics and logs, and
    /// 401/403 by route and reason.
    @Test func consumersAndRejectionsAreEvents() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let gw = try await Self.gateway(port, plugins: """
              - name: key-auth
              - name: acl
                config: {allow: [admins]}
              - name: prometheus
                config: {status_code_metrics: true, per_consumer: true}
            """)
        defer { Task { await gw.stop(); await backend.stop() } }
        let consumer = gw.gateway.events.makeConsumer(name: "test")

        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\napikey: alice-key\r\n\r\n")?.status == 200)
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\napikey: bob-key\r\n\r\n")?.status == 403)
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\napikey: stolen\r\n\r\n")?.status == 401)
        var events: [RequestEvent] = []
        for _ in 0..<100 where events.count < 3 {
            _ = consumer.drain(max: 16) { events += $0 }
            if events.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
        }
        try #require(events.count == 3)
        let config = gw.gateway.currentConfig
        let aliceIndex = Int32(try #require(config.consumers.firstIndex { $0.username == "alice" }))
        let bobIndex = Int32(try #require(config.consumers.firstIndex { $0.username == "bob" }))
        #expect(events[0].consumer == aliceIndex && events[0].decision == .none)
        #expect(events[1].consumer == bobIndex && events[1].decision == .authFailed && events[1].plugin == 1 && events[1].reason == 2)
        #expect(events[2].consumer == -1 && events[2].decision == .authFailed && events[2].plugin == 0 && events[2].reason == 2)

        let expected = [
            "kong_http_requests_total{service=\"backend\",route=\"main\",code=\"200\",source=\"service\",workspace=\"default\",consumer=\"alice\"} 1",
            "kong_http_requests_total{service=\"backend\",route=\"main\",code=\"403\",source=\"kong\",workspace=\"default\",consumer=\"bob\"} 1",
            "argus_access_rejections_total{service=\"backend\",route=\"main\",plugin=\"acl\",instance=\"\(config.plugins[1].id)\",reason=\"forbidden\"} 1",
            "argus_access_rejections_total{service=\"backend\",route=\"main\",plugin=\"key-auth\",instance=\"\(config.plugins[0].id)\",reason=\"invalid_key\"} 1",
            "argus_access_rejections_by_client_total{client=\"127.0.0.1\",plugin=\"acl\"} 1",
            "argus_access_rejections_by_client_total{client=\"127.0.0.1\",plugin=\"key-auth\"} 1",
        ]
        var text = ""
        for _ in 0..<100 {
            text = try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.adminPort)).bodyString
            if expected.allSatisfy(text.contains) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        for line in expected { #expect(text.contains(line), "\(line)") }
    }

    /// The log record names the consumer and the credential (Kong's `authenticated_entity`), and
    /// its apikey header is in the record like any other header.
    @Test func logRecordsCarryTheConsumerAndCredential() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let directory = NSTemporaryDirectory() + "argus-access-log-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gw = try await Self.gateway(port, plugins: """
              - name: key-auth
              - name: file-log
                config: {path: \(directory)/access.log}
            """)
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\napikey: bob-key\r\n\r\n")?.status == 200)
        #expect(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 401)
        let config = gw.gateway.currentConfig
        await gw.stop()
        await backend.stop()
        let text = try String(contentsOfFile: directory + "/access.log", encoding: .utf8)
        let records = try text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        try #require(records.count == 2)
        let bob = try #require(config.consumers.first { $0.username == "bob" })
        let credential = try #require(config.credentials.first { $0.kind == "keyauth_credentials" && $0.consumerID == bob.id })
        #expect((records[0]["consumer"] as? [String: Any])?["username"] as? String == "bob")
        let entity = try #require(records[0]["authenticated_entity"] as? [String: Any])
        #expect(entity["id"] as? String == credential.id && entity["consumer_id"] as? String == bob.id)
        #expect(records[1]["consumer"] == nil && records[1]["authenticated_entity"] == nil)
        #expect((records[1]["response"] as? [String: Any])?["status"] as? Int == 401)
    }
}
