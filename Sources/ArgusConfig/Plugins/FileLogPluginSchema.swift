import Foundation

/// Kong's `file-log` plugin (kong-compat §6.2): one JSON log record per line appended to `path`.
/// Argus adds optional built-in rotation (`rotate_max_bytes`, `rotate_keep`). `custom_fields_by_lua`
/// cannot be honoured (Argus runs no Lua) and is rejected rather than silently ignored.
public enum FileLogPluginSchema {
    public static let schema = PluginSchema(
        name: "file-log", priority: 9, acceptsStreamProtocols: true, recordsRequestDetail: true,
        config: [
            SchemaField("path", .string(required: true, validators: [Typedefs.string(validatePath)])),
            SchemaField("reopen", .boolean(required: true, default: false)),
            SchemaField("custom_fields_by_lua", FieldSpec(.any, validators: [rejectLua])),
            SchemaField("rotate_max_bytes", .integer(greaterThan: 0)),
            SchemaField("rotate_keep", .integer(default: 5, between: 1...1000)),
        ])

    /// Kong's filename check, then whether Argus will be able to write there: an unwritable path is
    /// an error when the config is loaded, not a silent loss later.
    static func validatePath(_ path: String) -> String? {
        if path.isEmpty || path.contains(where: { "*&%`".contains($0) }) || path.hasSuffix("/") {
            return "not a valid filename"
        }
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return "is a directory, not a file" }
            return manager.isWritableFile(atPath: path) ? nil : "file is not writable"
        }
        let directory = (path as NSString).deletingLastPathComponent
        let parent = directory.isEmpty ? "." : directory
        guard manager.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "directory '\(parent)' does not exist"
        }
        return manager.isWritableFile(atPath: parent) ? nil : "directory '\(parent)' is not writable"
    }

    private static let rejectLua: @Sendable (JSONValue) -> String? = { value in
        switch value {
        case .null: return nil
        case .object(let fields) where fields.isEmpty: return nil
        default: return "custom_fields_by_lua is not supported: Argus does not run Lua"
        }
    }
}
