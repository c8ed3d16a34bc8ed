import ArgusConfig
import ArgusEvents

/// One `datadog` instance's lines for a request, as Kong's `kong/plugins/datadog/handler.lua`
/// writes them: `prefix.stat:value|kind[|@rate]|#name:<service>,status:<code>[,consumer:<id>],<metric tags>`
/// (the tag names as `service_name_tag`, `status_tag`, `consumer_tag` say), a datagram each. Pure.
struct DatadogLines: Sendable {
    struct Metric: Sendable {
        var stat: String
        var name: String
        var kind: String
        var rate: String
        var tags: [String]
        var consumerIdentifier: String?
    }

    let prefix: String
    let serviceTag: String, statusTag: String, consumerTag: String
    let metrics: [Metric]

    static let stats = [
        "request_size": "request.size", "response_size": "response.size", "latency": "latency", "upstream_latency": "upstream_latency",
        "kong_latency": "kong_latency", "request_count": "request.count",
    ]

    init(config: JSONValue) {
        prefix = config["prefix"]?.stringValue ?? "kong"
        serviceTag = config["service_name_tag"]?.stringValue ?? "name"
        statusTag = config["status_tag"]?.stringValue ?? "status"
        consumerTag = config["consumer_tag"]?.stringValue ?? "consumer"
        var kinds = StatsdLines.kinds
        kinds["distribution"] = "d"
        metrics = (config["metrics"]?.arrayValue ?? DatadogPluginSchema.defaultMetrics).compactMap { entry in
            guard let name = entry["name"]?.stringValue, let stat = Self.stats[name], let type = entry["stat_type"]?.stringValue else { return nil }
            let rate = entry["sample_rate"].flatMap { $0.doubleValue }.map { $0 == 1 ? "" : "|@" + StatsdLines.number($0) } ?? ""
            return Metric(
                stat: stat, name: name, kind: kinds[type] ?? "c", rate: rate,
                tags: entry["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                consumerIdentifier: entry["consumer_identifier"]?.stringValue)
        }
    }

    func lines(for event: RequestEvent, _ entities: StatsdLines.Entities) -> [String] {
        let proxied = event.upstreamFirstByteAt != 0
        let service = entities.service.map { ($0.name ?? $0.host).replacingDots() } ?? ""
        return metrics.map { metric in
            let value: String
            switch metric.name {
            case "request_size": value = String(event.requestBytes)
            case "response_size": value = String(event.responseBytes)
            case "latency": value = String(event.totalLatencyNanos / 1_000_000)
            case "upstream_latency": value = proxied ? String(event.upstreamLatencyNanos / 1_000_000) : "-1"
            case "kong_latency": value = String(event.gatewayLatencyNanos / 1_000_000)
            default: value = "1"
            }
            var tags = ["\(serviceTag):\(service)", "\(statusTag):\(event.status)"]
            if let consumer = consumerID(entities.consumer, metric.consumerIdentifier) { tags.append("\(consumerTag):\(consumer)") }
            tags += metric.tags
            return "\(prefix).\(metric.stat):\(value)|\(metric.kind)\(metric.rate)|#" + tags.joined(separator: ",")
        }
    }

    func consumerID(_ consumer: Consumer?, _ identifier: String?) -> String? {
        guard let consumer, let identifier else { return nil }
        switch identifier {
        case "consumer_id": return String(consumer.id.map { $0 == "-" ? "_" : $0 })
        case "username": return consumer.username
        default: return consumer.customID
        }
    }
}

extension String {
    fileprivate func replacingDots() -> String { String(map { $0 == "." ? "_" : $0 }) }
}
