import Foundation

/// Reads Kong 3.x declarative configuration (`kong.yml`, YAML or JSON) into a validated
/// `DeclarativeConfig`: Kong's defaults filled in, references resolved, deterministic ids
/// (see `EntityIDs`), and every problem reported at once, in document order, in Kong's words.
public enum ConfigLoader {
    /// Reads and validates a declarative file (YAML or JSON). Throws every problem found, not just the first.
    public static func load(file path: String) throws(ConfigErrors) -> DeclarativeConfig {
        let text: String
        switch FileReader.contents(of: path) {
        case .success(let contents): text = contents
        case .failure(let error): throw ConfigErrors([ConfigError(file: path, path: "", message: error.message)])
        }
        return try parse(text: text, file: path)
    }

    /// Same, from text; `file` is only used in error messages.
    public static func parse(text: String, file: String) throws(ConfigErrors) -> DeclarativeConfig {
        try parse(text: text, file: file, now: Date().timeIntervalSince1970, plugins: PluginRegistry.index(PluginRegistry.builtins))
    }

    /// `now` (seconds since 1970) stamps `created_at`/`updated_at`; `plugins` are the known plugin schemas.
    static func parse(text: String, file: String, now: Double, plugins: [String: PluginSchema]) throws(ConfigErrors) -> DeclarativeConfig {
        let document: DocNode?
        do {
            document = try NodeReader.read(text)
        } catch {
            throw ConfigErrors([ConfigError(file: file, path: "", message: error.message)])
        }
        guard let document else {
            throw ConfigErrors([ConfigError(file: file, path: "", message: "failed parsing declarative configuration: expected an object")])
        }
        let builder = DeclarativeBuilder(now: now, plugins: plugins)
        let config = builder.build(document)
        if let config, builder.issues.isEmpty { return config }
        throw ConfigErrors(builder.issues.configErrors(file: file, root: document))
    }

    /// Validates a declarative document already decoded (the Admin API's entity set, `POST /config`
    /// bodies): the same rules as a file. `now` (seconds since 1970) stamps entities without
    /// timestamps. Returns every problem found, each with its category, when it is invalid.
    public static func build(document: JSONValue, now: Double) -> (config: DeclarativeConfig?, errors: [FieldError]) {
        let builder = DeclarativeBuilder(now: now, plugins: PluginRegistry.index(PluginRegistry.builtins))
        let config = builder.build(DocNode(json: document))
        if let config, builder.issues.isEmpty { return (config, []) }
        return (nil, builder.issues.errors)
    }

    /// Parses JSON (or YAML) text into a plain value: nil for an empty document; the syntax error's
    /// message (with line and column) when it does not parse.
    public static func parseValue(text: String) throws(ConfigErrors) -> JSONValue? {
        do {
            return try NodeReader.read(text)?.json
        } catch {
            throw ConfigErrors([ConfigError(file: "", path: "", message: error.message)])
        }
    }
}
