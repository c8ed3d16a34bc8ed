import Testing
@testable import ArgusConfig

/// The real opentelemetry schema (Kong 3.9's `kong/plugins/opentelemetry/schema.lua`), through
/// the real registry.
@Suite struct OpenTelemetrySchemaTests {
    static func parse(_ config: String) throws(ConfigErrors) -> JSONValue { try PluginSchemaCheck.parse("opentelemetry", config) }

    static func errors(_ config: String) -> [String] { PluginSchemaCheck.errors("opentelemetry", config) }

    @Test func defaultsAreKong39s() throws {
        let c = try Self.parse("{traces_endpoint: 'http://collector:4318/v1/traces'}")
        #expect(c["connect_timeout"] == .int(1000))
        #expect(c["send_timeout"] == .int(5000))
        #expect(c["read_timeout"] == .int(5000))
        #expect(c["header_type"] == .string("preserve"))
        #expect(c["propagation"]?["default_format"] == .string("w3c"))
        #expect((c["propagation"]?["extract"] ?? .null) == .null)
        #expect(c["queue"]?["max_batch_size"] == .int(200))
        #expect(c["queue"]?["max_coalescing_delay"]?.doubleValue == 1)
        #expect((c["sampling_rate"] ?? .null) == .null)
        #expect((c["logs_endpoint"] ?? .null) == .null)
    }

    @Test func theDeprecatedEndpointIsTracesEndpoint() throws {
        let c = try Self.parse("{endpoint: 'http://collector:4318/v1/traces'}")
        #expect(c["traces_endpoint"] == .string("http://collector:4318/v1/traces"))
        #expect(c["endpoint"] == nil)
    }

    @Test func rejectsWhatKongRejects() {
        #expect(Self.errors("{}") == [
            "plugins[0].config: at least one of these fields must be non-empty: 'traces_endpoint', 'logs_endpoint'",
        ])
        #expect(Self.errors("{traces_endpoint: 'http://c/v1/traces', sampling_rate: 2}") == [
            "plugins[0].config.sampling_rate: value should be between 0 and 1",
        ])
        #expect(Self.errors("{traces_endpoint: 'http://c/v1/traces', header_type: zipkin}").count == 1)
        #expect(Self.errors("{traces_endpoint: 'http://c/v1/traces', propagation: {extract: [b3-single], default_format: w3c}}").count == 1)
        // a propagation record of one's own must name its default_format (required, as in Kong)
        #expect(Self.errors("{traces_endpoint: 'http://c/v1/traces', propagation: {extract: [w3c]}}") == [
            "plugins[0].config.propagation.default_format: required field missing",
        ])
        #expect(Self.errors("{traces_endpoint: 'http://c/v1/traces', propagation: {inject: [preserve, datadog], default_format: nowhere}}").count == 1)
        #expect(Self.errors("{traces_endpoint: 'ftp://c/v1/traces'}").count == 1)
        #expect(Self.errors("{traces_endpoint: 'http://c/v1/traces', resource_attributes: {service.name: ''}}") == [
            "plugins[0].config.resource_attributes.service.name: length must be at least 1",
        ])
    }

    @Test func acceptsKongsDocumentedConfigs() throws {
        let c = try Self.parse("""
            {traces_endpoint: 'http://otel:4318/v1/traces', logs_endpoint: 'http://otel:4318/v1/logs', \
            headers: {X-Auth: token}, resource_attributes: {service.name: gateway}, sampling_rate: 0.25, \
            http_response_header_for_traceid: x-trace-id, batch_span_count: 50, \
            propagation: {extract: [w3c, b3], inject: [preserve, datadog], clear: [x-b3-sampled], default_format: b3-single}, \
            queue: {max_batch_size: 10, max_coalescing_delay: 2}}
            """)
        #expect(c["propagation"]?["inject"] == .array([.string("preserve"), .string("datadog")]))
        #expect(c["sampling_rate"]?.doubleValue == 0.25)
        #expect(c["queue"]?["max_batch_size"] == .int(10))
    }
}
