import Crypto
import Foundation
import Testing
@testable import ArgusConfig

@Suite struct LoaderHappyPathTests {
    @Test func nestedFileLoadsEveryEntity() throws {
        let config = try load(Fixtures.nested)
        #expect(config.formatVersion == "3.0")
        #expect(config.summary == "2 services, 1 route, 2 consumers, 3 plugins, 1 upstream, 3 targets")
        #expect(config.credentials.count == 4)
    }

    @Test func urlShorthandExpandsAndDefaultsPortByScheme() throws {
        let config = try load(Fixtures.nested)
        let orders = try #require(config.services.first { $0.name == "orders" })
        #expect(orders.protocol == "http")
        #expect(orders.host == "orders.internal")
        #expect(orders.port == 8080)
        #expect(orders.path == "/v1")
        let secure = try #require(config.services.first { $0.name == "secure" })
        #expect(secure.protocol == "https")
        #expect(secure.port == 443)
        #expect(secure.path == nil)
    }

    @Test func serviceDefaultsAreFilledIn() throws {
        let orders = try #require(try load(Fixtures.nested).services.first)
        #expect(orders.retries == 3)
        #expect(orders.connectTimeout == 60000 && orders.writeTimeout == 60000 && orders.readTimeout == 60000)
        #expect(orders.enabled)
        #expect(orders.tlsVerify == nil && orders.tlsVerifyDepth == nil)
        #expect(orders.tags == ["team-a", "orders"])  // a set: duplicates dropped
        #expect(orders.createdAt == 1_700_000_000 && orders.updatedAt == 1_700_000_000)
    }

    @Test func nestedRouteGetsParentAndDefaults() throws {
        let config = try load(Fixtures.nested)
        let route = try #require(config.routes.first)
        #expect(route.serviceID == config.services[0].id)
        #expect(route.protocols == ["http", "https"])
        #expect(route.paths == ["/orders", "~/orders/(?<id>\\d+)$"])
        #expect(route.methods == ["GET", "POST"])
        #expect(route.headers == ["x-version": ["1", "2"]])
        #expect(route.stripPath && !route.preserveHost)
        #expect(route.regexPriority == 0 && route.pathHandling == "v0" && route.httpsRedirectStatusCode == 426)
        #expect(route.requestBuffering && route.responseBuffering)
    }

    @Test func pluginsAreScopedAndConfigDefaultsFilled() throws {
        let config = try load(Fixtures.nested)
        let route = config.routes[0], service = config.services[0]
        let onRoute = try #require(config.plugins.first { $0.routeID != nil })
        #expect(onRoute.name == "rate-limiting" && onRoute.routeID == route.id && onRoute.serviceID == nil)
        #expect(onRoute.config == .object(["minute": .int(60), "policy": .string("local"), "fault_tolerant": .bool(true)]))
        #expect(onRoute.protocols == ["grpc", "grpcs", "http", "https"] && onRoute.enabled)
        let onService = try #require(config.plugins.first { $0.name == "key-auth" })
        #expect(onService.serviceID == service.id && onService.routeID == nil && onService.consumerID == nil)
        #expect(onService.config == .object(["key_names": .array([.string("apikey")]), "hide_credentials": .bool(false)]))
        let global = try #require(config.plugins.last)
        #expect(global.serviceID == nil && global.routeID == nil && global.consumerID == nil)
    }

    @Test func credentialsBelongToTheirConsumer() throws {
        let config = try load(Fixtures.nested)
        let alice = try #require(config.consumers.first)
        #expect(alice.username == "alice" && alice.customID == "c-1")
        #expect(config.credentials.allSatisfy { $0.consumerID == alice.id })
        #expect(config.credentials.map(\.kind) == ["keyauth_credentials", "jwt_secrets", "acls", "basicauth_credentials"])
        let jwt = config.credentials[1]
        #expect(jwt.fields["algorithm"] == .string("HS256") && jwt.fields["secret"] == .string("s3cr3t"))
        // `_transform` defaults to true: basic-auth passwords are stored as sha1(password .. consumer id)
        let hashed = Insecure.SHA1.hash(data: Array(("pw" + alice.id).utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(config.credentials[3].fields["password"] == .string(hashed))
    }

    @Test func targetsAreNormalised() throws {
        let config = try load(Fixtures.nested)
        let upstream = try #require(config.upstreams.first)
        #expect(config.targets.map(\.target) == ["10.0.0.1:8080", "10.0.0.2:8000", "[0000:0000:0000:0000:0000:0000:0000:0001]:9000"])
        #expect(config.targets.map(\.port) == [8080, 8000, 9000])
        #expect(config.targets[2].host == "0000:0000:0000:0000:0000:0000:0000:0001")
        #expect(config.targets.map(\.weight) == [100, 50, 100])
        #expect(config.targets.allSatisfy { $0.upstreamID == upstream.id })
        #expect(config.targets[0].createdAt == 1_700_000_000.123)
    }

    @Test func upstreamGetsTheWholeHealthchecksTree() throws {
        let upstream = try #require(try load(Fixtures.nested).upstreams.first)
        #expect(upstream.algorithm == "round-robin" && upstream.hashOn == "none" && upstream.hashFallback == "none")
        #expect(upstream.slots == 10000 && upstream.hashOnCookiePath == "/" && !upstream.useSrvName)
        #expect(upstream.healthchecks == HealthchecksDefaults.defaults)
        let active = try #require(upstream.healthchecks["active"])
        #expect(active["type"] == .string("http") && active["timeout"] == .int(1) && active["concurrency"] == .int(10))
        #expect(active["http_path"] == .string("/") && active["https_verify_certificate"] == .bool(true))
        #expect(active["healthy"]?["http_statuses"] == .array([.int(200), .int(302)]))
        #expect(active["unhealthy"]?["http_statuses"]?.arrayValue?.count == 8)
        let passive = try #require(upstream.healthchecks["passive"])
        #expect(passive["healthy"]?["http_statuses"]?.arrayValue?.count == 19)
        #expect(passive["unhealthy"]?["http_statuses"] == .array([.int(429), .int(500), .int(503)]))
        #expect(passive["unhealthy"]?["tcp_failures"] == .int(0))
        #expect(upstream.healthchecks["threshold"] == .int(0))
    }

    @Test func partialHealthchecksKeepDefaultsAround() throws {
        let upstream = try #require(try load(Fixtures.smallYAML).upstreams.first)
        #expect(upstream.algorithm == "least-connections")
        #expect(upstream.healthchecks["active"]?["healthy"]?["interval"] == .int(5))
        #expect(upstream.healthchecks["active"]?["healthy"]?["successes"] == .int(0))
        #expect(upstream.healthchecks["active"]?["unhealthy"]?["interval"] == .int(0))
    }

    @Test func nestedAndTopLevelFormsAreEquivalent() throws {
        let nested = try load(Fixtures.nested)
        let flat = try load(Fixtures.topLevel)
        #expect(nested.services == flat.services)
        #expect(nested.routes == flat.routes)
        #expect(nested.consumers == flat.consumers)
        #expect(nested.upstreams == flat.upstreams)
        // ids built from a parent differ by form (the parent's id vs its name), as in Kong
        func withoutID(_ p: Plugin) -> Plugin { var p = p; p.id = ""; return p }
        #expect(Set(nested.plugins.map { withoutID($0).name + ($0.routeID ?? "") + ($0.serviceID ?? "") })
            == Set(flat.plugins.map { withoutID($0).name + ($0.routeID ?? "") + ($0.serviceID ?? "") }))
        #expect(nested.targets.map(\.target) == flat.targets.map(\.target))
        #expect(nested.credentials.map(\.fields) == flat.credentials.map(\.fields))
    }

    @Test func idsAreDeterministicAcrossLoads() throws {
        let first = try load(Fixtures.nested)
        let second = try ConfigLoader.parse(text: Fixtures.nested, file: "kong.yml", now: testNow + 3600, plugins: TestPlugins.all)
        #expect(first.services.map(\.id) == second.services.map(\.id))
        #expect(first.routes.map(\.id) == second.routes.map(\.id))
        #expect(first.consumers.map(\.id) == second.consumers.map(\.id))
        #expect(first.plugins.map(\.id) == second.plugins.map(\.id))
        #expect(first.upstreams.map(\.id) == second.upstreams.map(\.id))
        #expect(first.targets.map(\.id) == second.targets.map(\.id))
        #expect(first.credentials.map(\.id) == second.credentials.map(\.id))
        let all = first.services.map(\.id) + first.routes.map(\.id) + first.plugins.map(\.id) + first.credentials.map(\.id)
        #expect(Set(all).count == all.count)
    }

    @Test func idsFollowKongsScheme() throws {
        let config = try load(Fixtures.nested)
        let servicesNamespace = UUIDv5.make(namespace: EntityIDs.entitiesNamespace, name: "services")
        #expect(config.services[0].id == UUIDv5.make(namespace: servicesNamespace, name: "orders"))
        let route = config.routes[0]
        #expect(config.plugins[0].id == EntityIDs.generate(entity: "plugins", key: "plugins:*:rate-limiting:\(route.id)::"))
        #expect(config.targets[0].id == EntityIDs.generate(entity: "targets", key: "targets:*:\(config.upstreams[0].id):10.0.0.1:8080"))
        #expect(config.consumers[1].id == EntityIDs.generate(entity: "consumers", key: "argus:custom_id:c-2"))
    }

    @Test func givenIdsAreKeptLowerCased() throws {
        let config = try load("""
            _format_version: "3.0"
            services:
              - { id: 8A7B6C5D-1234-4ABC-9DEF-0123456789AB, name: s, host: example.com }
            routes:
              - { service: { id: 8a7b6c5d-1234-4abc-9def-0123456789ab }, paths: [/] }
            """)
        #expect(config.services[0].id == "8a7b6c5d-1234-4abc-9def-0123456789ab")
        #expect(config.routes[0].serviceID == "8a7b6c5d-1234-4abc-9def-0123456789ab")
    }

    @Test func uuidV5MatchesTheRFCVector() {
        #expect(UUIDv5.make(namespace: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", name: "python.org") == "886313e1-3b8a-5372-9b90-0c9aee199e5d")
    }

    @Test func jsonAndYAMLGiveTheSameResult() throws {
        let yaml = try load(Fixtures.smallYAML)
        let json = try load(Fixtures.smallJSON, file: "kong.json")
        #expect(yaml == json)
        #expect(yaml.routes[0].stripPath == false)
        #expect(yaml.routes[0].hosts == ["example.com", "*.example.org"])
    }

    @Test func legacyFormatMigratesRegexLookingPaths() throws {
        let config = try load("""
            _format_version: "1.1"
            services:
              - name: s
                host: example.com
                routes:
                  - paths: ["/users/\\\\d+", "/plain", "/a/./b", "/x%2Dy"]
            routes:
              - paths: ["/v(1|2)/items"]
                service: s
            """)
        #expect(config.formatVersion == "3.0")
        #expect(config.routes[0].paths == ["~/users/\\d+", "/plain", "/a/b", "/x-y"])
        #expect(config.routes[1].paths == ["~/v(1|2)/items"])
    }

    @Test func loadsFromAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("argus-config-\(UUID().uuidString).yml").path
        try Fixtures.smallYAML.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try ConfigLoader.load(file: path)
        #expect(fromFile.services.map(\.id) == (try load(Fixtures.smallYAML)).services.map(\.id))
    }

    @Test func emptyEntityListsAreFine() throws {
        let config = try ConfigLoader.parse(text: "_format_version: \"3.0\"\nservices: []\ncertificates: []\n", file: "kong.yml")
        #expect(config == DeclarativeConfig.empty)
    }

    @Test func yamlAnchorsMergeKeysAndYAML11Booleans() throws {
        let config = try load("""
            _format_version: "3.0"
            _ignore:
              - &defaults
                retries: 2
                read_timeout: 5000
            services:
              - <<: *defaults
                name: a
                host: a.internal
                routes: [{ paths: [/a], strip_path: no, preserve_host: yes }]
              - <<: *defaults
                name: b
                host: b.internal
                retries: 7
            """)
        #expect(config.services.map(\.retries) == [2, 7])
        #expect(config.services.map(\.readTimeout) == [5000, 5000])
        #expect(config.routes[0].stripPath == false && config.routes[0].preserveHost == true)
    }
}
