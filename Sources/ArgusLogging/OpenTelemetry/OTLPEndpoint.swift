import ArgusConfig
import ArgusTracing

/// An `opentelemetry` instance's OTLP/HTTP destinations as http-log sink settings: the endpoint,
/// Kong's headers (`Content-Type: application/x-protobuf` unless the config sets one), the three
/// timeouts as one deadline, the queue (with Kong's deprecated `batch_span_count` and
/// `batch_flush_delay` mapped onto it), and the batch framing with the instance's resource
/// (Kong's `service.name`, `service.instance.id`, `service.version`, overridden by
/// `resource_attributes`) and scope (`kong-internal` 0.1.0).
enum OTLPEndpoint {
    enum Kind: String, Sendable {
        case traces
        case logs
    }

    static func make(_ config: JSONValue, kind: Kind, resourceDefaults: [(String, String)]) -> HTTPLogEndpoint {
        let url = config[kind == .traces ? "traces_endpoint" : "logs_endpoint"]?.stringValue ?? ""
        var queue: [String: JSONValue] = [:]
        if case .object(let fields)? = config["queue"] { queue = fields }
        if let count = config["batch_span_count"]?.intValue, queue["max_batch_size"] == nil || queue["max_batch_size"] == .int(200) {
            queue["max_batch_size"] = .int(count)
        }
        if let delay = config["batch_flush_delay"]?.intValue, queue["max_coalescing_delay"] == nil || queue["max_coalescing_delay"] == .int(1) {
            queue["max_coalescing_delay"] = .int(delay)
        }
        if queue["max_batch_size"] == nil { queue["max_batch_size"] = .int(200) }
        let timeout = (config["connect_timeout"]?.doubleValue ?? 1000) + (config["send_timeout"]?.doubleValue ?? 5000)
            + (config["read_timeout"]?.doubleValue ?? 5000)
        var contentType = "application/x-protobuf"
        var headers: [String: JSONValue] = [:]
        if case .object(let fields)? = config["headers"] {
            for (name, value) in fields {
                if name.lowercased() == "content-type", let text = value.stringValue { contentType = text } else { headers[name] = value }
            }
        }
        var settings: [String: JSONValue] = [
            "http_endpoint": .string(url), "method": .string("POST"), "timeout": .double(timeout), "queue": .object(queue),
            "headers": .object(headers),
        ]
        if let spool = config["spool_max_bytes"] { settings["spool_max_bytes"] = spool }
        var endpoint = HTTPLogEndpoint(.object(settings))
        endpoint.contentType = contentType
        endpoint.sinkName = "opentelemetry"
        endpoint.framing = .otlp(resource: resource(config, defaults: resourceDefaults), scope: scope)
        return endpoint
    }

    /// The `resource` field of a `ResourceSpans`/`ResourceLogs`.
    static func resource(_ config: JSONValue, defaults: [(String, String)]) -> [UInt8] {
        var attributes = defaults
        if case .object(let fields)? = config["resource_attributes"] {
            for name in fields.keys.sorted() {
                guard let value = fields[name]?.stringValue else { continue }
                if let k = attributes.firstIndex(where: { $0.0 == name }) { attributes[k].1 = value } else { attributes.append((name, value)) }
            }
        }
        var w = ProtobufWriter()
        w.message(OTLP.resource) { w in
            for (name, value) in attributes { w.attribute(OTLP.resourceAttributes, key: name, value) }
        }
        return w.bytes
    }

    /// The `scope` field of a `ScopeSpans`/`ScopeLogs`: Kong's `kong-internal` 0.1.0.
    static let scope: [UInt8] = {
        var w = ProtobufWriter()
        w.message(OTLP.scope) { w in
            w.staticString(OTLP.scopeName, "kong-internal")
            w.staticString(OTLP.scopeVersion, "0.1.0")
        }
        return w.bytes
    }()
}
