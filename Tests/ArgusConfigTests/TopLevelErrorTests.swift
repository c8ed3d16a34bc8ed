import Foundation
import Testing
@testable import ArgusConfig

@Suite struct TopLevelErrorTests {
    static let cases: [ErrorCase] = [
        ErrorCase("foo: 1", "foo", "unknown field"),
        ErrorCase("_transform: maybe", "_transform", "expected a boolean"),
        ErrorCase("_comment: [a]", "_comment", "expected a string"),
        ErrorCase("_ignore: x", "_ignore", "expected an array"),
        ErrorCase("services: {name: x}", "services", "expected an array"),
        ErrorCase("services: [hello]", "services[0]", "expected a record"),
        ErrorCase("vaults: [{name: env}]", "vaults", "Argus does not support 'vaults' entities yet"),
        ErrorCase("services: [{host: h, _comment: 5}]", "services[0]._comment", "expected a string"),
    ]

    @Test(arguments: cases) func rejects(_ c: ErrorCase) {
        #expect(errors(c.document) == c.expected)
    }

    @Test(arguments: [
        ("services: []", "_format_version", "required field missing"),
        ("_format_version: \"2.0\"", "_format_version", "expected one of: 1.1, 2.1, 3.0"),
        ("_format_version: 3.0", "_format_version", "expected a string"),
        ("- just\n- a list", "", "failed parsing declarative configuration: expected an object"),
        ("", "", "failed parsing declarative configuration: expected an object"),
    ])
    func formatVersionAndRoot(_ text: String, _ path: String, _ message: String) {
        #expect(errors(text) == [ConfigError(file: "kong.yml", path: path, message: message)])
    }

    @Test func yamlSyntaxErrorIsOneErrorWithLineAndColumn() {
        let found = errors("_format_version: \"3.0\"\nservices:\n  - name: a\n   host: b\n")
        #expect(found.count == 1)
        #expect(found.first?.path == "")
        #expect(found.first?.message.hasPrefix("invalid YAML at line 4, column") == true)
    }

    @Test func jsonSyntaxErrorIsReportedToo() {
        let found = errors("{\"_format_version\": \"3.0\", \"services\": [}")
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("invalid YAML at line 1") == true)
    }

    @Test func missingFileReportsTheOSReason() {
        let path = "/nonexistent/argus/kong.yml"
        #expect(throws: ConfigErrors([ConfigError(file: path, path: "", message: "cannot read file: No such file or directory")])) {
            try ConfigLoader.load(file: path)
        }
    }

    @Test func directoryIsNotAFile() {
        #expect(throws: ConfigErrors([ConfigError(file: "/tmp", path: "", message: "cannot read file: Is a directory")])) {
            try ConfigLoader.load(file: "/tmp")
        }
    }

    @Test func everyProblemIsReportedInDocumentOrder() {
        let found = errors("""
            services:
              - name: a
                port: 99999
                routes:
                  - paths: [nope]
              - host: example.com
                retries: -1
            plugins:
              - name: unknown-plugin
            _transform: 7
            """)
        #expect(found.map(\.description) == [
            "kong.yml: _format_version: required field missing",
            "kong.yml: services[0].host: required field missing",
            "kong.yml: services[0].port: value should be between 0 and 65535",
            "kong.yml: services[0].routes[0].paths[0]: should start with: / (fixed path) or ~/ (regex path)",
            "kong.yml: services[1].retries: value should be between 0 and 32767",
            "kong.yml: plugins[0].name: plugin 'unknown-plugin' not enabled; add it to the 'plugins' configuration property",
            "kong.yml: _transform: expected a boolean",
        ])
    }

    @Test func theRealRegistryHasOnlyImplementedPlugins() throws {
        #expect(PluginRegistry.names == [
            "acl", "basic-auth", "correlation-id", "cors", "datadog", "file-log", "http-log", "ip-restriction", "jwt", "key-auth", "loggly", "opentelemetry", "prometheus",
            "proxy-cache", "rate-limiting", "request-size-limiting", "request-termination", "request-transformer", "response-transformer",
            "statsd", "syslog", "tcp-log", "udp-log", "zipkin", "response-ratelimiting",
        ].sorted())
        #expect(PluginRegistry.schema(named: "oauth2") == nil)
        let found = (try? ConfigLoader.parse(text: "_format_version: \"3.0\"\nplugins: [{name: oauth2}]", file: "k.yml")) == nil
        #expect(found)
    }

    @Test func prometheusDefaultsEveryFlagToFalse() throws {
        let config = try ConfigLoader.parse(
            text: "_format_version: \"3.0\"\nplugins: [{name: prometheus, config: {latency_metrics: true}}]", file: "k.yml")
        let flags = config.plugins[0].config
        #expect(flags["latency_metrics"] == .bool(true))
        for name in ["per_consumer", "status_code_metrics", "bandwidth_metrics", "upstream_health_metrics", "ai_metrics", "wasm_metrics"] {
            #expect(flags[name] == .bool(false), "\(name)")
        }
        #expect(throws: ConfigErrors.self) {
            try ConfigLoader.parse(text: "_format_version: \"3.0\"\nplugins: [{name: prometheus, config: {latency: true}}]", file: "k.yml")
        }
    }
}
