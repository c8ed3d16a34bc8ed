import ArgusConfig
import Testing
@testable import ArgusAdmin

/// `POST /config?flatten_errors=1` as Kong 3.9's `15-off_spec.lua` has it (decK and the Kong
/// Ingress Controller read this format).
@Suite struct FlattenedErrorsTests {
    let admin = AdminAPITests()

    func post(_ f: AdminAPITests.Fixture, _ document: String, query: String = "flatten_errors=1") async throws -> JSONValue {
        let answer = try #require(await f.api.respond(AdminRequest(
            method: "POST", path: "/config", query: query, contentType: "application/json", body: Array(document.utf8))))
        #expect(answer.status == 400)
        return try #require(try ConfigLoader.parseValue(text: String(decoding: answer.body, as: UTF8.self)))
    }

    func entries(_ body: JSONValue) -> [JSONValue] { body["flattened_errors"]?.arrayValue ?? [] }

    /// off_spec l.2202-2324: nested entities are entries of their own; a valid parent gets none.
    @Test func nestedEntitiesAreHoistedAndTheirParentsLeftOut() async throws {
        try await admin.withFixture { f in
            let body = try await post(f, """
                {"_format_version": "3.0", "services": [{"name": "svc", "host": "example.test", "tags": ["service-01"],
                  "routes": [{"hosts": ["ok"], "paths": ["/"], "tags": ["service_route-01"],
                              "plugins": [{"name": "http-log", "config": {"a": {"b": {"c": "def"}}}, "tags": ["route_service_plugin-01"]}]},
                             {"hosts": ["invalid"], "paths": ["/"], "protocols": ["nope"], "tags": ["service_route-02"]}],
                  "plugins": [{"name": "i-do-not-exist", "config": {}, "tags": ["service_plugin-01"]}]}]}
                """)
            #expect(body["code"] == .int(14) && body["name"] == .string("invalid declarative configuration"))
            #expect(body["message"] == .string("declarative config is invalid: {}") && body["fields"] == .object([:]))
            let list = entries(body)
            #expect(list.map { $0["entity_type"]?.stringValue ?? "" }.sorted() == ["plugin", "plugin", "route"])
            #expect(!list.contains { $0["entity_type"] == .string("service") })
            // the route's plugin: its own entry, with its errors as dotted field paths
            let plugin = try #require(list.first { $0["entity_name"] == .string("http-log") })
            #expect(plugin["entity_tags"] == .array([.string("route_service_plugin-01")]))
            let fields = plugin["errors"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
            #expect(fields.contains("config.a") && fields.contains("config.http_endpoint"))
            #expect(plugin["errors"]?.arrayValue?.allSatisfy { $0["type"] == .string("field") } == true)
            // the second route: protocols, by position from 1; child collections left out of `entity`
            let route = try #require(list.first { $0["entity_type"] == .string("route") })
            #expect(route["entity"]?["protocols"] == .array([.string("nope")]) && route["entity"]?["plugins"] == nil)
            #expect(route["errors"]?.arrayValue?.first?["field"]?.stringValue?.hasPrefix("protocols") == true)
            let unknown = try #require(list.first { $0["entity_name"] == .string("i-do-not-exist") })
            #expect(unknown["errors"] == .array([.object([
                "type": .string("field"), "field": .string("name"),
                "message": .string("plugin 'i-do-not-exist' not enabled; add it to the 'plugins' configuration property"),
            ])]))
        }
    }

    /// off_spec l.2393-2519: what belongs to no entity stays in `fields` and the message.
    @Test func topLevelErrorsStayInFields() async throws {
        try await admin.withFixture { f in
            let body = try await post(f, """
                {"_format_version": "3.0", "abnormal_extra_field": 123, "services": [{"name": "s", "port": 99999}]}
                """, query: "flatten_errors=true")
            #expect(body["fields"] == .object(["abnormal_extra_field": .string("unknown field")]))
            #expect(body["message"] == .string(#"declarative config is invalid: {abnormal_extra_field="unknown field"}"#))
            let service = try #require(entries(body).first)
            #expect(service["entity_type"] == .string("service") && service["entity_name"] == .string("s"))
            let fields = Set(service["errors"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? [])
            #expect(fields.contains("port") && fields.contains("host"))
            // off: no flattened_errors, everything in fields
            let plain = try await post(f, #"{"_format_version": "3.0", "abnormal_extra_field": 123}"#, query: "flatten_errors=off")
            #expect(plain["flattened_errors"] == nil && plain["fields"]?["abnormal_extra_field"] != nil)
        }
    }

    /// off_spec l.2770-2806 and l.2345-2390: a uniqueness violation is an entity error; a child
    /// names its parent by id; invalid ids, names and tags are not echoed as entity_* fields.
    @Test func entityErrorsParentIDsAndInvalidEntityFields() async throws {
        try await admin.withFixture { f in
            let body = try await post(f, """
                {"_format_version": "3.0", "flatten_errors": true,
                 "consumers": [{"username": "test-consumer-1", "tags": ["consumer-1"]}, {"username": "test-consumer-1", "tags": ["consumer-2"]}],
                 "services": [{"id": "cb019421-62c2-47a8-b714-d7567b114037", "name": "parent", "host": "h.test",
                               "routes": [{"paths": ["/"], "super_duper_invalid": true}]}]}
                """, query: "")
            let list = entries(body)
            let consumer = try #require(list.first { $0["entity_type"] == .string("consumer") })
            #expect(consumer["entity_tags"] == .array([.string("consumer-2")]))
            #expect(consumer["errors"]?.arrayValue?.first?["type"] == .string("entity"))
            #expect(consumer["errors"]?.arrayValue?.first?["message"]?.stringValue?.hasPrefix("uniqueness violation") == true)
            let route = try #require(list.first { $0["entity_type"] == .string("route") })
            #expect(route["entity"]?["service"] == .object(["id": .string("cb019421-62c2-47a8-b714-d7567b114037")]))
            #expect(route["errors"] == .array([.object([
                "type": .string("field"), "field": .string("super_duper_invalid"), "message": .string("unknown field"),
            ])]))
        }
    }

    /// `15-off_spec.lua`: the 201 has every entity type, its entities keyed by id, without `ws_id`.
    @Test func theCreatedBodyKeysEntitiesByID() async throws {
        try await admin.withFixture { f in
            let document = """
                {"_format_version": "3.0", "services": [{"id": "0855b320-0dd2-547d-891d-601e9b38647f", "name": "s", "host": "h.test",
                  "routes": [{"id": "481a9539-f49c-51b6-b2e2-fe99ee68866c", "paths": ["/"]}]}],
                 "plugins": [{"id": "0611a5a9-de73-5a2d-a4e6-6a38ad4c3cb2", "name": "key-auth"}]}
                """
            let answer = try #require(await f.api.respond(AdminRequest(
                method: "POST", path: "/config", contentType: "application/json", body: Array(document.utf8))))
            #expect(answer.status == 201)
            let body = try #require(try ConfigLoader.parseValue(text: String(decoding: answer.body, as: UTF8.self)))
            let service = try #require(body["services"]?["0855b320-0dd2-547d-891d-601e9b38647f"])
            let route = try #require(body["routes"]?["481a9539-f49c-51b6-b2e2-fe99ee68866c"])
            #expect(route["service"]?["id"] == service["id"] && service["ws_id"] == nil && route["ws_id"] == nil)
            #expect(body["plugins"]?["0611a5a9-de73-5a2d-a4e6-6a38ad4c3cb2"]?["ws_id"] == nil)
            #expect(body["consumers"] == .object([:]) && body["workspaces"] == nil)
        }
    }

    @Test func pathsSplitIntoEntitiesAndFields() {
        let segments = FlattenedErrors.parse("services[0].routes[1].protocols[0]")
        let (entity, type) = FlattenedErrors.entity(in: segments)!
        #expect(type == "route" && entity.count == 4)
        #expect(FlattenedErrors.field(Array(segments[entity.count...])) == "protocols.1")
        #expect(FlattenedErrors.entity(in: FlattenedErrors.parse("consumers[2].keyauth_credentials[0].key"))?.1 == "keyauth_credential")
        #expect(FlattenedErrors.entity(in: FlattenedErrors.parse("services[0].client_certificate.cert"))?.1 == "certificate")
        #expect(FlattenedErrors.entity(in: FlattenedErrors.parse("_format_version")) == nil)
    }
}
