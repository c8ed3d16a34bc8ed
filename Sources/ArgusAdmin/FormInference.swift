import ArgusConfig

/// Gives form values the types the schema names (Kong's `arguments.infer`): `""` is null,
/// numbers and booleans are parsed, a single value for an array field becomes an array (a
/// comma-separated one is split: `config.methods=GET,POST`), records and maps are walked.
/// JSON bodies are typed already and never pass through here.
enum FormInference {
    /// Infers an entity's fields; a plugin's `config` by the schema of the plugin `pluginName`.
    static func entity(_ input: JSONValue, kind: String, pluginName: String? = nil) -> JSONValue {
        guard case .object(var fields) = input else { return input }
        for field in EntitySchemas.fields(of: kind) {
            if let value = fields[field.name] { fields[field.name] = infer(value, field.spec) }
        }
        if kind == "services", let url = fields["url"], url == .string("") { fields["url"] = .null }
        if kind == "plugins", let config = fields["config"] {
            let name = fields["name"]?.stringValue ?? pluginName
            if let spec = name.flatMap({ PluginRegistry.schema(named: $0)?.configSpec }) {
                fields["config"] = infer(config, spec)
            }
        }
        return .object(fields)
    }

    static func infer(_ value: JSONValue, _ spec: FieldSpec) -> JSONValue {
        if value == .string("") { return .null }
        switch spec.kind {
        case .integer, .number:
            guard case .string(let s) = value else { return value }
            let text = s.trimmed(of: " \t")
            if let i = Int(text) { return .int(i) }
            if let d = Double(text), d.isFinite { return .double(d) }
            return value
        case .boolean:
            switch value {
            case .string("true"): return .bool(true)
            case .string("false"): return .bool(false)
            default: return value
            }
        case .array(let element), .set(let element):
            switch value {
            case .string(let s):
                let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmed(of: " \t") }
                return .array(parts.map { infer(.string($0), element) })
            case .array(let items):
                return .array(items.map { infer($0, element) })
            default:
                return .array([infer(value, element)])
            }
        case .map(_, let values):
            guard case .object(let fields) = value else { return value }
            return .object(fields.mapValues { infer($0, values) })
        case .record(let schemaFields, _):
            guard case .object(var fields) = value else { return value }
            for field in schemaFields {
                if let v = fields[field.name] { fields[field.name] = infer(v, field.spec) }
            }
            return .object(fields)
        case .string, .any:
            return value
        }
    }
}
