import Testing
@testable import ArgusConfig

/// Plugin schemas standing in for the real plugins (the registry starts empty).
enum TestPlugins {
    static let rateLimiting = PluginSchema(
        name: "rate-limiting", priority: 910,
        config: [
            SchemaField("second", .number(greaterThan: 0)),
            SchemaField("minute", .number(greaterThan: 0)),
            SchemaField("policy", .string(default: "local", oneOf: ["local", "cluster", "redis"])),
            SchemaField("fault_tolerant", .boolean(required: true, default: true)),
        ],
        checks: [.atLeastOneOf(["second", "minute"])])

    static let keyAuth = PluginSchema(
        name: "key-auth", priority: 1250, allowsConsumerScope: false,
        config: [
            SchemaField("key_names", .array(of: Typedefs.headerName, required: true, default: [.string("apikey")])),
            SchemaField("hide_credentials", .boolean(required: true, default: false)),
        ])

    static let all = PluginRegistry.index([rateLimiting, keyAuth])
}

/// The load time the tests pin, so two loads compare equal.
let testNow: Double = 1_700_000_000.123456

func load(_ text: String, file: String = "kong.yml") throws(ConfigErrors) -> DeclarativeConfig {
    try ConfigLoader.parse(text: text, file: file, now: testNow, plugins: TestPlugins.all)
}

/// The errors a document produces (empty when it loads).
func errors(_ text: String) -> [ConfigError] {
    do {
        _ = try load(text)
        return []
    } catch {
        return error.errors
    }
}

/// One row of a validation table: a document snippet (after `_format_version: "3.0"`) that must
/// produce exactly one error, at `path`, with `message`.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    var yaml: String
    var path: String
    var message: String

    init(_ yaml: String, _ path: String, _ message: String) {
        self.yaml = yaml
        self.path = path
        self.message = message
    }

    var testDescription: String { "\(path): \(message)" }

    var document: String { "_format_version: \"3.0\"\n" + yaml }

    var expected: [ConfigError] { [ConfigError(file: "kong.yml", path: path, message: message)] }
}
