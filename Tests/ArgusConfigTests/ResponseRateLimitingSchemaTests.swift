import Testing
@testable import ArgusConfig

/// The real response-ratelimiting schema: Kong 3.9's
/// `spec/03-plugins/24-response-rate-limiting/01-schema_spec.lua`, through the real registry.
@Suite struct ResponseRateLimitingSchemaTests {
    static func parse(_ config: String) throws(ConfigErrors) -> JSONValue { try PluginSchemaCheck.parse("response-ratelimiting", config) }

    static func errors(_ config: String) -> [String] { PluginSchemaCheck.errors("response-ratelimiting", config) }

    @Test func properConfigValidates() throws {
        let c = try Self.parse("{limits: {video: {second: 1}}}")
        #expect(c["header_name"] == .string("x-kong-limit"))
        #expect(c["limit_by"] == .string("consumer"))
        #expect(c["policy"] == .string("local"))
        #expect(c["fault_tolerant"] == .bool(true))
        #expect(c["block_on_first_violation"] == .bool(false))
        #expect(c["hide_client_headers"] == .bool(false))
        #expect(Self.errors("{limits: {video: {second: 1, minute: 2, hour: 3, day: 4, month: 5, year: 6}}}").isEmpty)
        // "limits: 'null' value does not cause 500, issue #8314"
        #expect(Self.errors("{limits: {video: {second: null, minute: 1}}}").isEmpty)
    }

    @Test func errorsAreKongs() {
        #expect(Self.errors("{}") == ["plugins[0].config.limits: required field missing"])
        #expect(Self.errors("{limits: {}}") == ["plugins[0].config.limits: length must be at least 1"])
        #expect(Self.errors("{limits: {video: {seco: 1}}}").contains("plugins[0].config.limits.video.seco: unknown field"))
        #expect(Self.errors("{limits: {video: {second: 2, minute: 1}}}") == [
            "plugins[0].config.limits: the limit for minute(1.0) cannot be lower than the limit for second(2.0)",
        ])
        #expect(Self.errors("{limits: {video: {second: 1, minute: 2, hour: 3, day: 4, month: 6, year: 5}}}") == [
            "plugins[0].config.limits: the limit for year(5.0) cannot be lower than the limit for month(6.0)",
        ])
        #expect(Self.errors("{limits: {second: 10}}") == ["plugins[0].config.limits.second: expected a record"])
        #expect(Self.errors("{limits: {video: {}}}") == [
            "plugins[0].config.limits.video: at least one of these fields must be non-empty: 'second', 'minute', 'hour', 'day', 'month', 'year'",
        ])
        #expect(Self.errors("{limits: {video: {second: 1}}, limit_by: service}").count == 1)
    }

    @Test func redisNewAndLegacyStructures() throws {
        let nested = try Self.parse("""
            {limits: {video: {second: 10}}, policy: redis, redis: {host: 127.0.0.1, port: 6379, database: 0, username: test,
             password: testXXX, ssl: true, ssl_verify: false, timeout: 1100, server_name: redis.test}}
            """)
        #expect(nested["redis"]?["timeout"] == .int(1100))
        let legacy = try Self.parse("""
            {limits: {video: {second: 10}}, policy: redis, redis_host: 127.0.0.1, redis_port: 6379, redis_database: 0,
             redis_username: test, redis_password: testXXX, redis_ssl: true, redis_ssl_verify: false, redis_timeout: 1100,
             redis_server_name: redis.test}
            """)
        #expect(legacy["redis"]?["host"] == .string("127.0.0.1") && legacy["redis"]?["timeout"] == .int(1100))
        // "verifies that redis required fields are supplied"
        #expect(Self.errors("{limits: {video: {second: 10}}, policy: redis, redis: {port: 6379}}") == [
            "plugins[0].config.redis.host: required field missing",
        ])
        #expect(Self.errors("{limits: {video: {second: 10}}, policy: cluster}") == [
            "plugins[0].config.policy: [response-ratelimiting] 'cluster' policy is not supported: use 'local' or 'redis'",
        ])
    }
}
