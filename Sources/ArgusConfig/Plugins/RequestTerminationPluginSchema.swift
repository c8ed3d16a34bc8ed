/// Kong's request-termination (`kong/plugins/request-termination/schema.lua`): answers every
/// request itself (maintenance windows, blocking a route), or only those carrying `trigger` as a
/// header or query argument; `echo` answers with the request as Kong describes it.
public enum RequestTerminationPluginSchema {
    static func present(_ value: JSONValue?) -> Bool {
        if case .string(let s)? = value { return !s.isEmpty }
        return false
    }

    public static let schema = PluginSchema(
        name: "request-termination", priority: 2,
        config: [
            SchemaField("status_code", .integer(required: true, default: 503, between: 100...599)),
            SchemaField("message", .string()),
            SchemaField("content_type", .string()),
            SchemaField("body", .string()),
            SchemaField("echo", .boolean(required: true, default: false)),
            SchemaField("trigger", Typedefs.headerName),
        ],
        checks: [
            RecordCheck { config, path in
                let message: String?
                if present(config["message"]) && (present(config["content_type"]) || present(config["body"])) {
                    message = "message cannot be used with content_type or body"
                } else if present(config["content_type"]) && !present(config["body"]) {
                    message = "content_type requires a body"
                } else if config["echo"]?.boolValue == true && (present(config["content_type"]) || present(config["body"])) {
                    message = "echo cannot be used with content_type and body"
                } else {
                    message = nil
                }
                return message.map { [FieldError(path: path, message: $0)] } ?? []
            },
        ])
}
