import ArgusConfig
import Testing
@testable import ArgusAdmin

/// Issue 23's Admin API items, as Kong 3.9's specs and source have them: 415 for other content
/// types (`03-consumers_routes_spec.lua`, `api_helpers.lua`), `/routes/{r}/service`
/// (`09-routes_routes_spec.lua`), nested deletes of unknown entities, foreign-key error bodies
/// (`09-routes_routes_spec.lua`, `02-db_core_entities_spec.lua`), targets newest first (`targets.lua`).
@Suite struct KongAdminEndpointsTests {
    let admin = AdminAPITests()
    let conformance = KongConformanceAdminTests()

    func raw(_ f: AdminAPITests.Fixture, _ method: String, _ path: String, contentType: String, body: String) async -> AdminResponse? {
        await f.api.respond(AdminRequest(method: method, path: path, contentType: contentType, body: Array(body.utf8)))
    }

    @Test func otherContentTypesAre415() async throws {
        try await admin.withFixture { f in
            for type in ["text/plain", "application/xml", "invalid", "Application/JSON", "text/yaml"] {
                let answer = await raw(f, "POST", "/services", contentType: type, body: #"{"name": "x", "host": "x.test"}"#)
                #expect(answer?.status == 415, "\(type)")
                #expect(answer.map { $0.contentType.hasPrefix("text/html") } == true)
                let page = String(decoding: answer?.body ?? [], as: UTF8.self)
                #expect(page.contains("<title>415 Unsupported Media Type</title>"))
            }
            // no content type: only an empty body passes (to the schema's own 400 here)
            #expect(await raw(f, "POST", "/consumers", contentType: "", body: "username=x")?.status == 415)
            #expect(await raw(f, "POST", "/consumers", contentType: "", body: "")?.status == 400)
            #expect(await raw(f, "POST", "/consumers", contentType: "application/json; charset=utf-8", body: #"{"username": "a"}"#)?.status == 201)
            #expect(await raw(f, "PATCH", "/consumers/a", contentType: "invalid", body: "username=b")?.status == 415)
            // GET and DELETE are not checked; YAML is for /config only
            #expect(await raw(f, "GET", "/consumers", contentType: "invalid", body: "")?.status == 200)
            #expect(await raw(f, "POST", "/config", contentType: "application/yaml", body: "_format_version: '3.0'\n")?.status != 415)
        }
    }

    /// `09-routes_routes_spec.lua` "handles invalid size"; `10-services_routes_spec.lua` "handles invalid url".
    @Test func invalidSizesAndURLShorthandErrorsAreKongs() async throws {
        try await admin.withFixture { f in
            for size in ["x", "potato"] {
                let (status, body) = await admin.call(f, "GET", "/routes?size=\(size)")
                #expect(status == 400 && body == .object([
                    "code": .int(9), "name": .string("invalid size"), "message": .string("size must be a number"),
                ]))
            }
            for size in ["0", "1001", "1.5"] {
                let (status, body) = await admin.call(f, "GET", "/routes?size=\(size)")
                #expect(status == 400 && body["message"] == .string("size must be an integer between 1 and 1000"), "\(size)")
            }
            #expect(await admin.call(f, "GET", "/routes?size=2").0 == 200)
            let (status, body) = await admin.call(f, "POST", "/services", form: "url=invalid%20url")
            #expect(status == 400)
            #expect(body == .object([
                "name": .string("schema violation"), "code": .int(2),
                "message": .string("2 schema violations (host: required field missing; path: should start with: /)"),
                "fields": .object(["host": .string("required field missing"), "path": .string("should start with: /")]),
            ]))
            #expect(await admin.call(f, "POST", "/services", form: "url=").0 == 400)
            #expect(await admin.call(f, "POST", "/services", form: "url=%20").0 == 400)
        }
    }

    /// `/schemas/plugins/{name}` carries the plugin's `entity_checks` as Kong's `schema_to_jsonable` writes them.
    @Test func pluginSchemasCarryTheirEntityChecks() async throws {
        try await admin.withFixture { f in
            var (status, body) = await admin.call(f, "GET", "/schemas/plugins/acl")
            #expect(status == 200 && body["entity_checks"] == .array([
                .object(["only_one_of": .array([.string("config.allow"), .string("config.deny")])]),
                .object(["at_least_one_of": .array([.string("config.allow"), .string("config.deny")])]),
            ]))
            (_, body) = await admin.call(f, "GET", "/schemas/plugins/rate-limiting")
            #expect(body["entity_checks"]?.arrayValue?.count == 6)
            #expect(body["entity_checks"]?.arrayValue?[1]["conditional"]?["then_field"] == .string("config.redis.host"))
            (_, body) = await admin.call(f, "GET", "/schemas/plugins/key-auth")
            #expect(body["entity_checks"] == .array([]))
        }
    }

    /// `23-rate-limiting/05-integration_spec.lua` "allows to create a plugin with legacy redis
    /// configuration": the flat `redis_*` fields set the nested record and are shown beside it.
    @Test func legacyRedisFieldsAreShownAndWritable() async throws {
        try await admin.withFixture { f in
            var (status, body) = await admin.call(f, "POST", "/plugins", json: """
                {"name": "rate-limiting", "config": {"minute": 100, "policy": "redis", "redis_host": "custom-host.example.test",
                 "redis_port": 55000, "redis_username": "test1", "redis_password": "testX", "redis_database": 1,
                 "redis_timeout": 1100, "redis_ssl": true, "redis_ssl_verify": true, "redis_server_name": "example.test"}}
                """)
            #expect(status == 201)
            let id = try #require(body["id"]?.stringValue)
            for (flat, nested, value) in [("redis_host", "host", JSONValue.string("custom-host.example.test")), ("redis_port", "port", .int(55000)),
                                          ("redis_username", "username", .string("test1")), ("redis_password", "password", .string("testX")),
                                          ("redis_database", "database", .int(1)), ("redis_timeout", "timeout", .int(1100)),
                                          ("redis_ssl", "ssl", .bool(true)), ("redis_ssl_verify", "ssl_verify", .bool(true)),
                                          ("redis_server_name", "server_name", .string("example.test"))] {
                #expect(body["config"]?["redis"]?[nested] == value && body["config"]?[flat] == value, "\(flat)")
            }
            // a PATCH of a flat field sets the nested one, and both show it
            (status, body) = await admin.call(f, "PATCH", "/plugins/\(id)", json: #"{"config": {"redis_host": "other.example.test"}}"#)
            #expect(status == 200 && body["config"]?["redis"]?["host"] == .string("other.example.test"))
            #expect(body["config"]?["redis_host"] == .string("other.example.test") && body["config"]?["redis_port"] == .int(55000))
            // and a PATCH of the nested one is not undone by the shown copy
            (_, body) = await admin.call(f, "PATCH", "/plugins/\(id)", json: #"{"config": {"redis": {"port": 6380}}}"#)
            #expect(body["config"]?["redis"]?["port"] == .int(6380) && body["config"]?["redis_port"] == .int(6380))
            (_, body) = await admin.call(f, "GET", "/plugins/\(id)")
            #expect(body["config"]?["redis_host"] == .string("other.example.test"))
        }
    }

    @Test func aRoutesServiceEndpointIsKongs() async throws {
        try await admin.withFixture { f in
            _ = await admin.call(f, "POST", "/services", form: "name=s1&url=http://a.test")
            _ = await admin.call(f, "POST", "/services/s1/routes", form: "name=r1&paths[]=/a")
            _ = await admin.call(f, "POST", "/routes", form: "name=r2&paths[]=/b")
            var (status, body) = await admin.call(f, "GET", "/routes/r1/service")
            #expect(status == 200 && body["name"] == .string("s1"))
            (status, body) = await admin.call(f, "DELETE", "/routes/r1/service")
            #expect(status == 405 && body == .object(["message": .string("Method not allowed")]))
            (status, body) = await admin.call(f, "PATCH", "/routes/r1/service", form: "retries=2")
            #expect(status == 200 && body["retries"] == .int(2) && body["name"] == .string("s1"))
            // PUT replaces the referenced service
            (status, body) = await admin.call(f, "PUT", "/routes/r1/service", form: "url=http://c.test")
            #expect(status == 200 && body["host"] == .string("c.test") && body["name"] == .null)
            // a route without a service: 404, except PUT, which creates one and links it
            for method in ["GET", "PATCH", "DELETE"] {
                #expect(await admin.call(f, method, "/routes/r2/service", form: "retries=1").0 == 404, "\(method)")
            }
            (status, body) = await admin.call(f, "PUT", "/routes/r2/service", form: "url=http://b.test")
            #expect(status == 200 && body["host"] == .string("b.test"))
            let id = try #require(body["id"]?.stringValue)
            (_, body) = await admin.call(f, "GET", "/routes/r2")
            #expect(body["service"] == .object(["id": .string(id)]))
        }
    }

    @Test func deletingAnUnknownNestedEntityIs404() async throws {
        try await admin.withFixture { f in
            _ = await admin.call(f, "POST", "/consumers", form: "username=bob")
            _ = await admin.call(f, "POST", "/routes", form: "name=r&paths[]=/a")
            let unknown = "00000000-0000-0000-0000-000000000000"
            #expect(await admin.call(f, "DELETE", "/consumers/bob/plugins/\(unknown)").0 == 404)
            #expect(await admin.call(f, "DELETE", "/routes/r/plugins/\(unknown)").0 == 404)
            #expect(await admin.call(f, "DELETE", "/consumers/bob/key-auth/\(unknown)").0 == 404)
            #expect(await admin.call(f, "DELETE", "/plugins/\(unknown)").0 == 204)
        }
    }

    @Test func foreignKeyErrorsAreKongs() async throws {
        try await admin.withFixture { f in
            let unknown = "00000000-0000-0000-0000-000000000001"
            var (status, body) = await admin.call(f, "POST", "/routes", json: #"{"paths": ["/x"], "service": {"id": "\#(unknown)"}}"#)
            #expect(status == 400)
            #expect(body == .object([
                "code": .int(4), "name": .string("foreign key violation"),
                "message": .string("the foreign key '{id=\"\(unknown)\"}' does not reference an existing 'services' entity."),
                "fields": .object(["service": .object(["id": .string(unknown)])]),
            ]))
            (status, body) = await admin.call(f, "POST", "/routes", json: #"{"paths": ["/x"], "service": {"name": "non-existing"}}"#)
            let detail = "the foreign key cannot be resolved with '{name=\"non-existing\"}' for an existing 'services' entity"
            #expect(status == 400)
            #expect(body == .object([
                "code": .int(13), "name": .string("foreign keys unresolved"),
                "message": .string("foreign key unresolved (service.name: \(detail))"),
                "fields": .object(["service": .object(["name": .string(detail)])]),
            ]))
            for reference in [#"{}"#, #"{"protocol": "http"}"#, #"{"name": null}"#] {
                (status, body) = await admin.call(f, "POST", "/routes", json: #"{"paths": ["/x"], "service": \#(reference)}"#)
                #expect(status == 400, "\(reference)")
                #expect(body == .object([
                    "code": .int(2), "name": .string("schema violation"),
                    "message": .string("schema violation (service.id: missing primary key)"),
                    "fields": .object(["service": .object(["id": .string("missing primary key")])]),
                ]), "\(reference)")
            }
            // an invalid field of the reference is reported before the missing key (Kong's
            // `validate_primary_key`, then `validate(value, false)` of the foreign schema)
            (status, body) = await admin.call(f, "POST", "/routes", json: #"{"paths": ["/x"], "service": {"protocol": "foo"}}"#)
            let expected = "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"
            #expect(status == 400 && body == .object([
                "code": .int(2), "name": .string("schema violation"),
                "message": .string("schema violation (service.protocol: \(expected))"),
                "fields": .object(["service": .object(["protocol": .string(expected)])]),
            ]))
        }
    }

    @Test func nestedListsNextLinksCarryTheOffsetAlone() async throws {
        try await admin.withFixture { f in
            _ = await admin.call(f, "POST", "/services", form: "name=s&url=http://a.test&tags[]=t")
            for i in 1...3 { _ = await admin.call(f, "POST", "/services/s/routes", form: "name=r\(i)&paths[]=/\(i)&tags[]=t") }
            var (_, body) = await admin.call(f, "GET", "/services/s/routes?size=2")
            let next = try #require(body["next"]?.stringValue)
            #expect(next.hasPrefix("/services/s/routes?offset=") && !next.contains("size="))
            (_, body) = await admin.call(f, "GET", "/tags?size=2")
            #expect(body["next"]?.stringValue?.contains("size=") == false)
            (_, body) = await admin.call(f, "GET", "/routes?size=2")
            #expect(body["next"]?.stringValue?.hasSuffix("&size=2") == true)
        }
    }

    @Test func arrayPositionsInMessagesAreKongs() async throws {
        // 09-routes_routes_spec.lua: "(protocols.1: expected one of: …)"
        try await admin.withFixture { f in
            let (status, body) = await admin.call(f, "POST", "/routes", json: #"{"methods": ["GET"], "protocols": ["foo", "http"]}"#)
            let expected = "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"
            #expect(status == 400)
            #expect(body == .object([
                "code": .int(2), "name": .string("schema violation"),
                "message": .string("schema violation (protocols.1: \(expected))"),
                "fields": .object(["protocols": .array([.string(expected)])]),
            ]))
        }
        #expect(AdminErrors.kongPath("config.headers[2]") == "config.headers.3")
        #expect(AdminErrors.kongPath("a[0].b[10]") == "a.1.b.11")
        #expect(AdminErrors.kongPath("name") == "name")
    }

    @Test func targetsAreListedNewestFirst() async throws {
        try await conformance.withMovingClock { f, clock in
            _ = await admin.call(f, "POST", "/upstreams", json: #"{"name": "pool"}"#)
            for host in ["a.test:1", "b.test:1", "c.test:1"] {
                #expect(await admin.call(f, "POST", "/upstreams/pool/targets", json: #"{"target": "\#(host)"}"#).0 == 201)
                clock.advance(1)
            }
            var (_, body) = await admin.call(f, "GET", "/upstreams/pool/targets")
            #expect(body["data"]?.arrayValue?.compactMap { $0["target"]?.stringValue } == ["c.test:1", "b.test:1", "a.test:1"])
            (_, body) = await admin.call(f, "GET", "/upstreams/pool/targets?size=2")
            #expect(body["data"]?.arrayValue?.compactMap { $0["target"]?.stringValue } == ["c.test:1", "b.test:1"])
            #expect(body["next"] == .string("/upstreams/pool/targets?offset=2") && body["offset"] == .string("2"))
            (_, body) = await admin.call(f, "GET", "/upstreams/pool/targets?offset=2")
            #expect(body["data"]?.arrayValue?.compactMap { $0["target"]?.stringValue } == ["a.test:1"] && body["next"] == .null)
        }
    }
}
