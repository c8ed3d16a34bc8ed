import Testing
@testable import ArgusConfig

/// The real rate-limiting schema (kong-compat §5.1), through the real registry.
@Suite struct RateLimitingSchemaTests {
    static func realErrors(_ config: String) -> [String] {
        let text = "_format_version: \"3.0\"\nplugins: [{name: rate-limiting, config: \(config)}]"
        do {
            _ = try ConfigLoader.parse(text: text, file: "kong.yml", now: testNow, plugins: PluginRegistry.index(PluginRegistry.builtins))
            return []
        } catch {
            return error.errors.map { "\($0.path): \($0.message)" }
        }
    }

    static func config(_ config: String) throws -> JSONValue {
        let text = "_format_version: \"3.0\"\nplugins: [{name: rate-limiting, config: \(config)}]"
        return try ConfigLoader.parse(text: text, file: "kong.yml", now: testNow, plugins: PluginRegistry.index(PluginRegistry.builtins))
            .plugins[0].config
    }

    @Test func defaultsAreKong39s() throws {
        let c = try Self.config("{minute: 5}")
        #expect(c["limit_by"] == .string("consumer"))
        #expect(c["policy"] == .string("local"))
        #expect(c["fault_tolerant"] == .bool(true))
        #expect(c["hide_client_headers"] == .bool(false))
        #expect(c["error_code"]?.doubleValue == 429)
        #expect(c["error_message"] == .string("API rate limit exceeded"))
        #expect(c["sync_rate"]?.doubleValue == -1)
        #expect(c["algorithm"] == .string("fixed"))
        #expect((c["second"] ?? .null) == .null && (c["hour"] ?? .null) == .null)
    }

    @Test func rejectsWhatKongRejects() {
        #expect(Self.realErrors("{}") == [
            "plugins[0].config: at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'",
        ])
        #expect(Self.realErrors("{second: 10, minute: 5}") == [
            "plugins[0].config: The limit for minute(5.0) cannot be lower than the limit for second(10.0)",
        ])
        #expect(Self.realErrors("{minute: 0}") == ["plugins[0].config.minute: value must be greater than 0"])
        #expect(Self.realErrors("{minute: 5, limit_by: header}") == ["plugins[0].config.header_name: required field missing"])
        #expect(Self.realErrors("{minute: 5, limit_by: path}") == ["plugins[0].config.path: required field missing"])
        #expect(Self.realErrors("{minute: 5, policy: redis}") == ["plugins[0].config.redis.host: required field missing"])
        #expect(Self.realErrors("{minute: 5, limit_by: nobody}") == [
            "plugins[0].config.limit_by: expected one of: consumer, credential, ip, service, header, path",
        ])
        #expect(Self.realErrors("{minute: 5, policy: cluster}") == [
            "plugins[0].config.policy: [rate-limiting] 'cluster' policy is not supported: use 'local' or 'redis'",
        ])
        #expect(Self.realErrors("{minute: 5, bogus: 1}") == ["plugins[0].config.bogus: unknown field"])
    }

    @Test func flatRedisFieldsAreDeprecatedAliases() throws {
        let c = try Self.config("{minute: 5, policy: redis, redis_host: 127.0.0.1, redis_port: 6380, redis_database: 2, redis_password: pw}")
        #expect(c["redis"]?["host"] == .string("127.0.0.1"))
        #expect(c["redis"]?["port"] == .int(6380))
        #expect(c["redis"]?["database"] == .int(2))
        #expect(c["redis"]?["password"] == .string("pw"))
        #expect(c["redis_host"] == nil)
        // The nested record wins over a flat alias.
        let both = try Self.config("{minute: 5, policy: redis, redis: {host: a.example}, redis_host: b.example}")
        #expect(both["redis"]?["host"] == .string("a.example"))
    }
}

/// The real key-auth, basic-auth, acl and ip-restriction schemas.
@Suite struct AccessSchemaTests {
    static func errors(_ plugin: String) -> [String] {
        let text = "_format_version: \"3.0\"\nplugins: [\(plugin)]"
        do {
            _ = try ConfigLoader.parse(text: text, file: "kong.yml", now: testNow, plugins: PluginRegistry.index(PluginRegistry.builtins))
            return []
        } catch {
            return error.errors.map { "\($0.path): \($0.message)" }
        }
    }

    @Test func kongsChecksAndMessages() {
        #expect(Self.errors("{name: key-auth}") == [])
        #expect(Self.errors("{name: key-auth, config: {key_names: []}}") == ["plugins[0].config.key_names: length must be at least 1"])
        #expect(Self.errors("{name: key-auth, config: {key_in_body: true}}") == [])
        #expect(Self.errors("{name: acl, config: {}}") == [
            "plugins[0].config: at least one of these fields must be non-empty: 'config.allow', 'config.deny'",
        ])
        #expect(Self.errors("{name: acl, config: {allow: [a], deny: [b]}}") == [
            "plugins[0].config: only one of these fields must be non-empty: 'config.allow', 'config.deny'",
        ])
        #expect(Self.errors("{name: ip-restriction, config: {allow: [10.0.0.0/33]}}") == [
            "plugins[0].config.allow[0]: invalid ip or cidr range: '10.0.0.0/33'",
        ])
        #expect(Self.errors("{name: ip-restriction, config: {status: 99, allow: [\"::1\"]}}") == [
            "plugins[0].config.status: value should be between 100 and 599",
        ])
        #expect(Self.errors("{name: basic-auth, config: {realm: null}}") == ["plugins[0].config.realm: required field missing"])
        #expect(Self.errors("{name: key-auth, consumer: x}").contains("plugins[0].consumer: value must be null"))
    }
}

/// The real correlation-id, cors and request-size-limiting schemas.
@Suite struct TrafficSchemaTests {
    @Test func defaultsAndChecks() throws {
        #expect(AccessSchemaTests.errors("{name: correlation-id}") == [])
        #expect(AccessSchemaTests.errors("{name: correlation-id, config: {generator: random}}") == [
            "plugins[0].config.generator: expected one of: uuid, uuid#counter, tracker",
        ])
        #expect(AccessSchemaTests.errors("{name: cors, config: {methods: [FETCH]}}") == [
            "plugins[0].config.methods[0]: expected one of: GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS, TRACE, CONNECT",
        ])
        #expect(AccessSchemaTests.errors("{name: cors, config: {origins: [\"(\"]}}").first?.hasPrefix("plugins[0].config.origins[0]: invalid regex: '('") == true)
        #expect(AccessSchemaTests.errors("{name: request-transformer, config: {add: {body: [\"a:1\"]}}}") == [])
        #expect(AccessSchemaTests.errors("{name: request-transformer, config: {add: {body: [novalue]}}}") == [
            "plugins[0].config.add.body[0]: invalid value: novalue",
        ])
        #expect(AccessSchemaTests.errors("{name: request-transformer, config: {add: {headers: [novalue]}}}") == [
            "plugins[0].config.add.headers[0]: invalid value: novalue",
        ])
        #expect(AccessSchemaTests.errors("{name: request-size-limiting, config: {size_unit: gigabytes}}") == [
            "plugins[0].config.size_unit: expected one of: megabytes, kilobytes, bytes",
        ])
        let config = try ConfigLoader.parse(
            text: "_format_version: \"3.0\"\nplugins: [{name: cors}, {name: correlation-id}, {name: request-size-limiting}]", file: "k.yml",
            now: testNow, plugins: PluginRegistry.index(PluginRegistry.builtins))
        #expect(config.plugins[0].config["methods"]?.arrayValue?.count == 9)
        #expect(config.plugins[1].config["header_name"] == .string("Kong-Request-ID"))
        #expect(config.plugins[1].config["generator"] == .string("uuid#counter"))
        #expect(config.plugins[2].config["allowed_payload_size"]?.intValue == 128)
    }
}
