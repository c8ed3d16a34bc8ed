import ArgusConfig

/// A `zipkin` instance's span settings, read once per config version.
struct ZipkinOptions: Sendable {
    let localServiceName: String
    let defaultServiceName: String?
    let includeCredential: Bool
    /// `tags_header`, lower-cased.
    let tagsHeader: [UInt8]
    let staticTags: [(name: String, value: String)]
    /// `http_span_name: method_path`.
    let pathInName: Bool
    /// `phase_duration_flavor: tags` (durations as tags instead of annotations).
    let durationTags: Bool
    /// `{"serviceName":"<local_service_name>"}`, rendered once.
    let localEndpoint: [UInt8]

    init(_ config: JSONValue) {
        localServiceName = config["local_service_name"]?.stringValue ?? "kong"
        defaultServiceName = config["default_service_name"]?.stringValue
        includeCredential = config["include_credential"]?.boolValue ?? true
        tagsHeader = Array((config["tags_header"]?.stringValue ?? "Zipkin-Tags").lowercased().utf8)
        staticTags = (config["static_tags"]?.arrayValue ?? []).compactMap { tag in
            guard let name = tag["name"]?.stringValue, let value = tag["value"]?.stringValue else { return nil }
            return (name, value)
        }
        pathInName = config["http_span_name"]?.stringValue == "method_path"
        durationTags = config["phase_duration_flavor"]?.stringValue == "tags"
        var w = JSONWriter(capacity: 64)
        w.openObject()
        w.key("serviceName")
        w.string(text: localServiceName)
        w.closeObject()
        localEndpoint = w.bytes
    }
}
