@testable import ArgusConfig

/// A plugin's `config` through the real registry and loader, as a Kong spec's
/// `validate_plugin_config_schema`: the config the schema fills in, or its errors as
/// `path: message` lines.
enum PluginSchemaCheck {
    static func parse(_ plugin: String, _ config: String) throws(ConfigErrors) -> JSONValue {
        let text = "_format_version: \"3.0\"\nplugins: [{name: \(plugin), config: \(config)}]"
        return try ConfigLoader.parse(text: text, file: "kong.yml", now: testNow, plugins: PluginRegistry.index(PluginRegistry.builtins))
            .plugins[0].config
    }

    static func errors(_ plugin: String, _ config: String) -> [String] {
        do {
            _ = try parse(plugin, config)
            return []
        } catch {
            return error.errors.map { "\($0.path): \($0.message)" }
        }
    }
}
