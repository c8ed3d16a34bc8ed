import ArgusConfig

/// A `zipkin` instance's collector as http-log sink settings: a `POST` of a JSON array of spans to
/// `http_endpoint` with `Content-Type: application/json` (Kong's reporter), the three timeouts as
/// one deadline, the queue, the spool budget.
enum ZipkinEndpoint {
    static func make(_ config: JSONValue) -> HTTPLogEndpoint {
        let timeout = (config["connect_timeout"]?.doubleValue ?? 2000) + (config["send_timeout"]?.doubleValue ?? 5000)
            + (config["read_timeout"]?.doubleValue ?? 5000)
        var settings: [String: JSONValue] = [
            "http_endpoint": .string(config["http_endpoint"]?.stringValue ?? ""), "method": .string("POST"), "timeout": .double(timeout),
            "queue": config["queue"] ?? .object([:]),
        ]
        if let spool = config["spool_max_bytes"] { settings["spool_max_bytes"] = spool }
        var endpoint = HTTPLogEndpoint(.object(settings))
        endpoint.contentType = "application/json"
        endpoint.sinkName = "zipkin"
        endpoint.framing = .jsonArray
        return endpoint
    }
}
