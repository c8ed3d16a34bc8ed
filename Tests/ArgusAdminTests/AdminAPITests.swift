import ArgusConfig
import Foundation
import Logging
import Synchronization
import Testing
@testable import ArgusAdmin

/// The Admin API over a real SQLite file in a temp directory.
@Suite struct AdminAPITests {
    final class Published: Sendable {
        let configs = Mutex<[DeclarativeConfig]>([])
        var last: DeclarativeConfig? { configs.withLock { $0.last } }
        var count: Int { configs.withLock { $0.count } }
    }

    struct Fixture {
        let api: AdminAPI
        let database: EntityDatabase
        let published: Published
        let path: String
    }

    func fixture(path: String? = nil) async throws -> Fixture {
        let file = path ?? NSTemporaryDirectory() + "argus-admin-\(UUID().uuidString).db"
        let database = try await EntityDatabase.open(path: file, logger: Logger(label: "test"))
        let document = try await database.document()
        let config = try #require(ConfigLoader.build(document: document, now: 1_700_000_000).config)
        let published = Published()
        let store = EntityStore(config: config, mode: .database(database), clock: { 1_700_000_000 }) { config in
            published.configs.withLock { $0.append(config) }
        }
        return Fixture(api: AdminAPI(store: store, clock: { 1_700_000_000.5 }), database: database, published: published, path: file)
    }

    /// Runs `body` on a fresh fixture and closes its database afterwards, even when `body` throws
    /// (sqlite-nio insists on a closed connection).
    func withFixture(path: String? = nil, _ body: (Fixture) async throws -> Void) async throws {
        let f = try await fixture(path: path)
        do {
            try await body(f)
        } catch {
            await f.database.close()
            throw error
        }
        await f.database.close()
    }

    func call(_ f: Fixture, _ method: String, _ path: String, form: String? = nil, json: String? = nil) async -> (Int, JSONValue) {
        let request = AdminRequest(
            method: method, path: path.split(separator: "?").first.map(String.init) ?? path,
            query: path.split(separator: "?").dropFirst().first.map(String.init) ?? "",
            contentType: json != nil ? "application/json" : "application/x-www-form-urlencoded",
            body: Array((json ?? form ?? "").utf8))
        guard let response = await f.api.respond(request) else { return (0, .null) }
        let body = response.body.isEmpty ? JSONValue.null : ((try? ConfigLoader.parseValue(text: String(decoding: response.body, as: UTF8.self))) ?? .null)
        return (response.status, body)
    }

    @Test func createReadUpdateDelete() async throws {
        try await withFixture { f in
            var (status, body) = await call(f, "POST", "/services", form: "name=orders&url=http://orders.internal:8080/v1")
            #expect(status == 201)
            #expect(body["host"] == .string("orders.internal") && body["port"] == .int(8080) && body["path"] == .string("/v1"))
            #expect(body["created_at"] == .int(1_700_000_000))
            let id = try #require(body["id"]?.stringValue)
            (status, body) = await call(f, "GET", "/services/\(id)")
            #expect(status == 200 && body["name"] == .string("orders"))
            (status, body) = await call(f, "PATCH", "/services/orders", json: "{\"retries\": 2, \"url\": \"https://pay.internal\"}")
            #expect(status == 200 && body["retries"] == .int(2) && body["protocol"] == .string("https") && body["port"] == .int(443))
            #expect(body["path"] == .null)
            (status, body) = await call(f, "POST", "/services/orders/routes", form: "paths[]=/orders&methods=GET,POST")
            #expect(status == 201 && body["service"]?["id"] == .string(id) && body["methods"] == .array([.string("GET"), .string("POST")]))
            #expect(f.published.last?.routes.count == 1)
            (status, body) = await call(f, "DELETE", "/services/orders")
            #expect(status == 400 && body["message"] == .string("an existing 'routes' entity references this 'services' entity"))
            let routeID = try #require(f.published.last?.routes.first?.id)
            #expect(await call(f, "DELETE", "/routes/\(routeID)").0 == 204)
            #expect(await call(f, "DELETE", "/services/orders").0 == 204)
            #expect(await call(f, "DELETE", "/services/orders").0 == 204)  // gone already: still 204
            #expect(await call(f, "GET", "/services/orders").0 == 404)
            #expect(f.published.last?.services.isEmpty == true)
        }
    }

    @Test func putUpsertsByNameAndKeepsTheID() async throws {
        try await withFixture { f in
            var (status, body) = await call(f, "PUT", "/consumers/alice", json: "{\"custom_id\": \"c-1\"}")
            #expect(status == 200 && body["username"] == .string("alice"))
            let id = body["id"]
            (status, body) = await call(f, "PUT", "/consumers/alice", json: "{\"tags\": [\"gold\"]}")
            #expect(status == 200 && body["id"] == id && body["custom_id"] == .null && body["tags"] == .array([.string("gold")]))
            let fixed = "5ca1ab1e-0000-4000-8000-000000000001"
            (status, body) = await call(f, "PUT", "/consumers/\(fixed)", json: "{\"username\": \"bob\"}")
            #expect(status == 200 && body["id"] == .string(fixed))
        }
    }

    @Test func cascadesAndCredentials() async throws {
        try await withFixture { f in
            _ = await call(f, "POST", "/consumers", form: "username=carol")
            var (status, body) = await call(f, "POST", "/consumers/carol/key-auth", form: "")
            #expect(status == 201 && (body["key"]?.stringValue?.count ?? 0) == 32)
            (status, body) = await call(f, "POST", "/consumers/carol/basic-auth", form: "username=carol&password=pw")
            #expect(status == 201 && body["password"] != .string("pw") && body["password"]?.stringValue?.count == 40)
            let hashed = body["password"]
            (status, body) = await call(f, "PATCH", "/basic-auths/carol", form: "tags[]=t")
            #expect(status == 200 && body["password"] == hashed)  // not hashed twice
            (status, body) = await call(f, "POST", "/consumers/carol/acls", form: "group=gold")
            #expect(status == 201)
            (status, body) = await call(f, "POST", "/consumers/carol/acls", form: "group=gold")
            #expect(status == 409 && body["code"] == .int(5))
            (status, body) = await call(f, "POST", "/consumers/carol/plugins", form: "name=rate-limiting&config.second=3")
            #expect(status == 201 && body["consumer"]?["name"] == nil)
            #expect(f.published.last?.credentials.count == 3 && f.published.last?.plugins.count == 1)
            #expect(await call(f, "DELETE", "/consumers/carol").0 == 204)
            #expect(f.published.last?.credentials.isEmpty == true && f.published.last?.plugins.isEmpty == true)
        }
    }

    @Test func errorsAreKongsAndWriteNothing() async throws {
        try await withFixture { f in
            _ = await call(f, "POST", "/services", form: "name=a&host=a.internal")
            let published = f.published.count
            var (status, body) = await call(f, "POST", "/services/a/plugins", form: "name=rate-limiting&config.minute=abc")
            #expect(status == 400 && body["fields"]?["config"]?["minute"] == .string("expected a number"))
            (status, body) = await call(f, "POST", "/services", form: "name=a&host=b")
            #expect(status == 409 && body["message"] == .string("UNIQUE violation detected on '{name=\"a\"}'"))
            (status, body) = await call(f, "POST", "/routes", json: "{\"paths\": [\"/x\"], \"service\": {\"id\": \"5ca1ab1e-0000-4000-8000-000000000009\"}}")
            #expect(status == 400 && body["code"] == .int(4))
            (status, body) = await call(f, "POST", "/upstreams", form: "name=u&healthchecks.active.healthy.interval=-5")
            #expect(status == 400 && body["fields"]?["healthchecks"]?["active"]?["healthy"]?["interval"] != nil)
            (status, _) = await call(f, "GET", "/services?size=5000")
            #expect(status == 400)
            #expect(f.published.count == published)
        }
    }

    @Test func patchMergesPluginConfig() async throws {
        try await withFixture { f in
            var (status, body) = await call(f, "POST", "/plugins", form: "name=rate-limiting&config.minute=10&config.hour=100")
            let id = try #require(body["id"]?.stringValue)
            (status, body) = await call(f, "PATCH", "/plugins/\(id)", form: "config.minute=20")
            #expect(status == 200 && body["config"]?["minute"] == .int(20) && body["config"]?["hour"] == .int(100))
            (status, body) = await call(f, "PATCH", "/plugins/\(id)", form: "config.hour=5")
            #expect(status == 400)  // hour below minute: Kong's period-order message
        }
    }

    @Test func caCertificatesAreEntitiesServicesReference() async throws {
        try await withFixture { f in
            func json(_ text: String) -> String {
                String(decoding: try! JSONEncoder().encode(["cert": text]), as: UTF8.self)
            }
            var (status, body) = await call(f, "POST", "/ca_certificates", json: json(CACertificateTestData.ca))
            #expect(status == 201)
            let id = try #require(body["id"]?.stringValue)
            #expect(body["cert_digest"] == .string(CACertificateTestData.digest))
            (status, body) = await call(f, "GET", "/ca_certificates/\(id)")
            #expect(status == 200 && body["cert"]?.stringValue?.hasPrefix("-----BEGIN CERTIFICATE-----") == true)
            (status, body) = await call(
                f, "POST", "/services", json: #"{"name": "s", "url": "https://internal.example", "tls_verify": true, "ca_certificates": ["\#(id)"]}"#)
            #expect(status == 201 && body["ca_certificates"] == .array([.string(id)]))
            // Kong's entity check, under @entity
            (status, body) = await call(f, "POST", "/ca_certificates", json: json(CACertificateTestData.leaf))
            #expect(status == 400 && body["name"] == .string("schema violation"))
            #expect(body["fields"]?["@entity"] == .array([
                .string("certificate does not appear to be a CA because it is missing the \"CA\" basic constraint")]))
            // A CA a service still lists can not be deleted (Kong's `referenced by others`, code 19).
            let serviceID = try #require(await call(f, "GET", "/services/s").1["id"]?.stringValue)
            (status, body) = await call(f, "DELETE", "/ca_certificates/\(id)")
            #expect(status == 400 && body["code"] == .int(19) && body["name"] == .string("referenced by others"))
            #expect(body["message"] == .string("ca certificate \(id) is still referenced by services (id = \(serviceID))"))
            #expect(await call(f, "GET", "/ca_certificates/\(id)").0 == 200)
            // Once no service lists it, it goes.
            (status, _) = await call(f, "PATCH", "/services/s", json: #"{"ca_certificates": null, "tls_verify": false}"#)
            #expect(status == 200)
            #expect(await call(f, "DELETE", "/ca_certificates/\(id)").0 == 204)
            #expect(await call(f, "GET", "/ca_certificates/\(id)").0 == 404)
        }
    }

    @Test func aPluginsConfigShowsEveryFieldWithNullsLikeKong() async throws {
        try await withFixture { f in
            var (status, body) = await call(f, "POST", "/plugins", form: "name=rate-limiting&config.minute=10")
            #expect(status == 201)
            let id = try #require(body["id"]?.stringValue)
            for (method, path) in [("GET", "/plugins/\(id)"), ("PATCH", "/plugins/\(id)")] {
                (status, body) = await call(f, method, path, form: method == "PATCH" ? "config.minute=11" : "")
                #expect(status == 200)
                let config = try #require(body["config"])
                // unset: present as null; set and defaulted: their values; nested records too
                #expect(config["second"] == .null && config["hour"] == .null && config["header_name"] == .null)
                #expect(config["minute"]?.intValue == (method == "PATCH" ? 11 : 10) && config["limit_by"] == .string("consumer"))
                #expect(config["redis"]?["password"] == .null && config["redis"]?["port"] == .int(6379))
            }
            // the stored config keeps working with the nulls it was shown with
            (status, body) = await call(f, "GET", "/plugins")
            #expect(status == 200 && body["data"]?.arrayValue?.first?["config"]?["day"] == .null)
        }
    }

    @Test func changesSurviveReopening() async throws {
        var path = ""
        try await withFixture { f in
            _ = await call(f, "POST", "/upstreams", form: "name=pool")
            _ = await call(f, "POST", "/upstreams/pool/targets", form: "target=10.0.0.1:80&weight=5")
            _ = await call(f, "POST", "/upstreams/pool/targets", form: "target=10.0.0.2")
            let (status, body) = await call(f, "GET", "/upstreams/pool/targets/10.0.0.2")
            #expect(status == 200 && body["target"] == .string("10.0.0.2:8000"))
            path = f.path
        }
        try await withFixture(path: path) { again in
            let targets = await call(again, "GET", "/upstreams/pool/targets").1["data"]?.arrayValue ?? []
            #expect(targets.count == 2)
            #expect(await call(again, "DELETE", "/upstreams/pool").0 == 204)
            #expect(await call(again, "GET", "/upstreams/pool/targets").0 == 404)
        }
    }

    @Test func paginationWalksEveryEntityOnce() async throws {
        try await withFixture { f in
            for i in 0..<23 { _ = await call(f, "POST", "/consumers", form: "username=u\(i)&tags[]=\(i % 2 == 0 ? "even" : "odd")") }
            var seen: [String] = []
            var next: String? = "/consumers?size=5"
            while let path = next {
                let (status, body) = await call(f, "GET", path)
                #expect(status == 200)
                seen += body["data"]?.arrayValue?.compactMap { $0["username"]?.stringValue } ?? []
                next = body["next"]?.stringValue
            }
            #expect(seen.count == 23 && Set(seen).count == 23)
            let even = await call(f, "GET", "/consumers?tags=even").1["data"]?.arrayValue ?? []
            #expect(even.count == 12)
        }
    }

    @Test func unknownPathsAreLeftToTheListener() async throws {
        try await withFixture { f in
            _ = await call(f, "POST", "/upstreams", form: "name=pool")
            #expect(await f.api.respond(AdminRequest(method: "GET", path: "/upstreams/pool/health")) == nil)
            #expect(await f.api.respond(AdminRequest(method: "GET", path: "/status")) == nil)
            #expect(await call(f, "GET", "/plugins/enabled").1["enabled_plugins"]?.arrayValue?.contains(.string("key-auth")) == true)
        }
    }
}

extension AdminAPITests {
    @Test func tagsAndEndpoints() async throws {
        try await withFixture { f in
            _ = await call(f, "POST", "/services", form: "name=a&host=a.internal&tags[]=blue&tags[]=prod")
            _ = await call(f, "POST", "/consumers", form: "username=u&tags[]=blue")
            _ = await call(f, "POST", "/consumers", form: "username=v")
            let all = await call(f, "GET", "/tags").1["data"]?.arrayValue ?? []
            #expect(all.count == 3)
            let blue = await call(f, "GET", "/tags/blue").1["data"]?.arrayValue ?? []
            #expect(Set(blue.compactMap { $0["entity_name"]?.stringValue }) == ["services", "consumers"])
            #expect(blue.allSatisfy { $0["tag"] == .string("blue") && $0["id"] == nil })
            let page = await call(f, "GET", "/tags?size=2").1
            #expect(page["data"]?.arrayValue?.count == 2)
            let next = try #require(page["next"]?.stringValue)
            #expect(await call(f, "GET", next).1["data"]?.arrayValue?.count == 1)
            let endpoints = await call(f, "GET", "/endpoints").1["data"]?.arrayValue ?? []
            #expect(endpoints.contains(.string("/services/{services}")) && endpoints.contains(.string("/tags/{tags}")))
        }
    }
}
