import Testing
@testable import ArgusConfig

/// The real zipkin schema (Kong 3.9's `kong/plugins/zipkin/schema.lua`), through the real registry.
@Suite struct ZipkinSchemaTests {
    static func parse(_ config: String) throws(ConfigErrors) -> JSONValue { try PluginSchemaCheck.parse("zipkin", config) }

    static func errors(_ config: String) -> [String] { PluginSchemaCheck.errors("zipkin", config) }

    @Test func defaultsAreKong39s() throws {
        let c = try Self.parse("{}")  // no endpoint: the instance only propagates
        #expect((c["http_endpoint"] ?? .null) == .null)
        #expect(c["local_service_name"] == .string("kong"))
        #expect(c["sample_ratio"]?.doubleValue == 0.001)
        #expect(c["include_credential"] == .bool(true))
        #expect(c["traceid_byte_count"] == .int(16))
        #expect(c["header_type"] == .string("preserve"))
        #expect(c["default_header_type"] == .string("b3"))
        #expect(c["tags_header"] == .string("Zipkin-Tags"))
        #expect(c["http_span_name"] == .string("method"))
        #expect(c["connect_timeout"] == .int(2000))
        #expect(c["send_timeout"] == .int(5000))
        #expect(c["read_timeout"] == .int(5000))
        #expect(c["phase_duration_flavor"] == .string("annotations"))
        #expect(c["propagation"]?["default_format"] == .string("b3"))
        #expect(c["queue"]?["max_batch_size"] == .int(1))
    }

    // spec/03-plugins/34-zipkin/schema_spec.lua
    @Test func rejectsRepeatedTags() {
        #expect(Self.errors("{http_endpoint: 'http://example.dev', static_tags: [{name: foo, value: bar}, {name: foo, value: baz}]}") == [
            "plugins[0].config.static_tags: repeated tags are not allowed: foo",
        ])
    }

    @Test func rejectsWhatKongRejects() {
        #expect(Self.errors("{static_tags: [{name: lc, value: x}]}") == [
            "plugins[0].config.static_tags[0].name: must not be one of: error, http.method, http.path, http.status_code, "
                + "kong.balancer.state, kong.balancer.try, kong.consumer, kong.credential, kong.node.id, kong.route, kong.service, "
                + "lc, peer.hostname",
        ])
        #expect(Self.errors("{traceid_byte_count: 12}") == ["plugins[0].config.traceid_byte_count: expected one of: 8, 16"])
        #expect(Self.errors("{sample_ratio: 1.5}") == ["plugins[0].config.sample_ratio: value should be between 0 and 1"])
        #expect(Self.errors("{http_span_name: path}") == ["plugins[0].config.http_span_name: expected one of: method, method_path"])
        #expect(Self.errors("{http_endpoint: 'ftp://x'}").count == 1)
        #expect(Self.errors("{header_type: zipkin}") == [
            "plugins[0].config.header_type: expected one of: preserve, ignore, b3, b3-single, w3c, jaeger, ot, aws, datadog, gcp",
        ])
    }

    @Test func loadsOnStreamProtocolsAsKong() throws {
        let text = "_format_version: \"3.0\"\nplugins: [{name: zipkin, protocols: [http, https, tcp, tls, grpc, grpcs]}]"
        let config = try ConfigLoader.parse(text: text, file: "kong.yml", now: testNow, plugins: PluginRegistry.index(PluginRegistry.builtins))
        #expect(config.plugins[0].runsOnHTTP)
    }
}
