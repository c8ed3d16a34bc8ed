import Testing
@testable import ArgusConfig

@Suite struct PluginErrorTests {
    static let cases: [ErrorCase] = [
        ErrorCase("plugins: [{name: nope}]", "plugins[0].name", "plugin 'nope' not enabled; add it to the 'plugins' configuration property"),
        ErrorCase("plugins: [{config: {}}]", "plugins[0].name", "required field missing"),
        ErrorCase("plugins: [{name: rate-limiting, config: {minute: -1}}]", "plugins[0].config.minute", "value must be greater than 0"),
        ErrorCase("plugins: [{name: rate-limiting, config: {minute: x}}]", "plugins[0].config.minute", "expected a number"),
        ErrorCase("plugins: [{name: rate-limiting, config: {minute: 1, hour: 1}}]", "plugins[0].config.hour", "unknown field"),
        ErrorCase("plugins: [{name: rate-limiting, config: {minute: 1, policy: disk}}]", "plugins[0].config.policy",
                  "expected one of: local, cluster, redis"),
        ErrorCase("plugins: [{name: rate-limiting, config: {minute: 1, fault_tolerant: null}}]", "plugins[0].config.fault_tolerant",
                  "required field missing"),
        ErrorCase("plugins: [{name: rate-limiting, config: {policy: local}}]", "plugins[0].config",
                  "at least one of these fields must be non-empty: 'second', 'minute'"),
        ErrorCase("plugins: [{name: rate-limiting}]", "plugins[0].config", "at least one of these fields must be non-empty: 'second', 'minute'"),
        ErrorCase("plugins: [{name: key-auth, config: [1]}]", "plugins[0].config", "expected a record"),
        ErrorCase("plugins: [{name: key-auth, config: {key_names: [\"a b\"]}}]", "plugins[0].config.key_names[0]",
                  "bad header name 'a b', allowed characters are A-Z, a-z, 0-9, '_', and '-'"),
        ErrorCase("consumers: [{username: a, plugins: [{name: key-auth}]}]", "consumers[0].plugins[0].consumer", "value must be null"),
        ErrorCase("consumers: [{username: a}]\nplugins: [{name: key-auth, consumer: a}]", "plugins[0].consumer", "value must be null"),
        ErrorCase("plugins: [{name: key-auth, protocols: [ftp]}]", "plugins[0].protocols[0]", "expected one of: grpc, grpcs, http, https"),
        ErrorCase("plugins: [{name: key-auth, enabled: nope}]", "plugins[0].enabled", "expected a boolean"),
        ErrorCase("plugins: [{name: key-auth, protocols: [http, tcp]}]", "plugins[0].protocols[1]", "expected one of: grpc, grpcs, http, https"),
        ErrorCase("plugins: [{name: key-auth, route: r}]", "plugins[0].route", "invalid reference 'route: r' (no such entry in 'routes')"),
        ErrorCase("plugins: [{name: key-auth, instance_name: \"a b\"}]", "plugins[0].instance_name",
                  "invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~"),
        ErrorCase("plugins: [{name: key-auth, instance_name: k, service: s}, {name: key-auth, instance_name: k}]\nservices: [{name: s, host: h}]",
                  "plugins[1]", "uniqueness violation: 'plugins' entity with instance_name set to 'k' already declared"),
        ErrorCase("services: [{name: s, host: h, plugins: [{name: key-auth}]}]\nplugins: [{name: key-auth, service: s}]", "plugins[0]",
                  "uniqueness violation: 'plugins' entity with name set to 'key-auth' already declared for the same route, service and consumer"),
    ]

    @Test(arguments: cases) func rejects(_ c: ErrorCase) {
        #expect(errors(c.document) == c.expected)
    }

    /// Kong's `typedefs.protocols` plugins load with stream protocols; an instance for stream
    /// protocols alone does not run on HTTP requests (Kong's `should_process_plugin`).
    @Test func pluginsForStreamProtocolsLoadAndOnlyHTTPOnesRunOnHTTP() throws {
        func builtins(_ text: String) throws(ConfigErrors) -> DeclarativeConfig {
            try ConfigLoader.parse(text: text, file: "kong.yml", now: testNow, plugins: PluginRegistry.index(PluginRegistry.builtins))
        }
        #expect(throws: ConfigErrors.self) {
            _ = try builtins("_format_version: \"3.0\"\nplugins: [{name: prometheus, protocols: [http, ftp]}]")
        }
        let config = try builtins("""
            _format_version: "3.0"
            plugins:
              - {name: ip-restriction, protocols: [grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp], config: {deny: [10.0.0.1]}}
              - {name: file-log, protocols: [tcp, tls], config: {path: /dev/null}}
              - {name: prometheus, protocols: [tcp]}
              - {name: http-log, config: {http_endpoint: "http://127.0.0.1:9/"}}
            """)
        #expect(config.plugins.map(\.runsOnHTTP) == [true, false, false, true])
        #expect(config.plugins[3].protocols == ["grpc", "grpcs", "http", "https"])
        #expect(PluginScopes(config: config, plugin: "file-log").isEmpty)
    }

    /// tcp-log and udp-log: Kong's schemas (host and port required, defaults), Lua refused.
    @Test func socketLogPluginsValidateAsKongs() throws {
        func builtins(_ text: String) throws(ConfigErrors) -> DeclarativeConfig {
            try ConfigLoader.parse(text: "_format_version: \"3.0\"\nplugins: [\(text)]", file: "kong.yml", now: testNow,
                                   plugins: PluginRegistry.index(PluginRegistry.builtins))
        }
        let tcp = try builtins("{name: tcp-log, config: {host: logs.test, port: 5000}}").plugins[0].config
        #expect(tcp["timeout"]?.doubleValue == 10000 && tcp["keepalive"]?.doubleValue == 60000 && tcp["tls"] == .bool(false))
        let udp = try builtins("{name: udp-log, config: {host: 127.0.0.1, port: 5001}}").plugins[0].config
        #expect(udp["timeout"]?.doubleValue == 10000 && udp["keepalive"] == nil)
        for bad in ["{name: tcp-log, config: {port: 5000}}", "{name: udp-log, config: {host: h.test}}",
                    "{name: tcp-log, config: {host: h.test, port: 70000}}",
                    "{name: udp-log, config: {host: h.test, port: 1, custom_fields_by_lua: {a: \"return 1\"}}}"] {
            #expect(throws: ConfigErrors.self, "\(bad)") { _ = try builtins(bad) }
        }
    }

    @Test func sameGlobalPluginTwiceCollidesOnItsGeneratedID() {
        let id = EntityIDs.generate(entity: "plugins", key: "plugins:*:key-auth:::")
        #expect(errors("_format_version: \"3.0\"\nplugins: [{name: key-auth}, {name: key-auth}]") == [
            ConfigError(file: "kong.yml", path: "plugins[1]", message: "uniqueness violation: 'plugins' entity with primary key set to '\(id)' already declared"),
        ])
    }
}
