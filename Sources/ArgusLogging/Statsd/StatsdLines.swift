import ArgusConfig
import ArgusEvents
import Foundation

/// One `statsd` instance's lines for a request, as Kong's `kong/plugins/statsd/log.lua` writes
/// them: `prefix.scope.stat:value|kind[|@rate]` per configured metric (the scope
/// `service.<identifier>` with dots as `_`, or `global.unmatched`), or with a `tag_style` the
/// stat without scope and the service, route, workspace, consumer, node and status as tags.
/// Built once per instance and config version; ``lines(for:)`` is pure.
struct StatsdLines: Sendable {
    struct Metric: Sendable {
        var name: String
        var kind: String
        var rate: String
        var consumerIdentifier: String
        var serviceIdentifier: String
        var workspaceIdentifier: String
    }

    /// What a request's lines need to know besides its event.
    struct Entities: Sendable {
        var service: Service?
        var route: Route?
        var consumer: Consumer?
    }

    let prefix: String
    let metrics: [Metric]
    let tagStyle: String?
    let allowStatus: [ClosedRange<Int>]?
    /// 0: a datagram per line; else lines joined by `\n` into packets of about this many bytes.
    let packetSize: Int
    /// Over TCP (`use_tcp`): every line on its own, `\n`-ended; `udp_packet_size` does not apply.
    let useTCP: Bool
    let hostname: String

    static let kinds = ["gauge": "g", "counter": "c", "timer": "ms", "histogram": "h", "meter": "m", "set": "s"]
    static let defaultWorkspaceName = "default"

    init(config: JSONValue, hostname: String = ProcessInfo.processInfo.hostName) {
        let host = hostname.replacingOccurrences(of: ".", with: "_")
        self.hostname = host
        tagStyle = config["tag_style"]?.stringValue
        let base = config["prefix"]?.stringValue ?? "kong"
        prefix = (config["hostname_in_prefix"]?.boolValue ?? false) && tagStyle == nil ? base + ".node." + host : base
        let consumerDefault = config["consumer_identifier_default"]?.stringValue ?? "custom_id"
        let serviceDefault = config["service_identifier_default"]?.stringValue ?? "service_name_or_host"
        let workspaceDefault = config["workspace_identifier_default"]?.stringValue ?? "workspace_id"
        metrics = (config["metrics"]?.arrayValue ?? StatsdPluginSchema.defaultMetrics).compactMap { entry in
            guard let name = entry["name"]?.stringValue, let type = entry["stat_type"]?.stringValue else { return nil }
            let rate = entry["sample_rate"].flatMap { $0.doubleValue }.map { $0 == 1 ? "" : "|@" + Self.number($0) } ?? ""
            return Metric(
                name: name, kind: Self.kinds[type] ?? "c", rate: rate,
                consumerIdentifier: entry["consumer_identifier"]?.stringValue ?? consumerDefault,
                serviceIdentifier: entry["service_identifier"]?.stringValue ?? serviceDefault,
                workspaceIdentifier: entry["workspace_identifier"]?.stringValue ?? workspaceDefault)
        }
        allowStatus = config["allow_status_codes"]?.arrayValue.map { list in
            list.compactMap { value -> ClosedRange<Int>? in
                let parts = (value.stringValue ?? "").split(separator: "-").compactMap { Int($0) }
                return parts.count == 2 && parts[0] <= parts[1] ? parts[0]...parts[1] : nil
            }
        }
        packetSize = Int(config["udp_packet_size"]?.doubleValue ?? 0)
        useTCP = config["use_tcp"]?.boolValue ?? false
    }

    /// `%.14g` as Lua prints numbers: integers without a decimal point.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.14g", value)
    }

    /// The request's lines, in the metrics' order (none when its status is not allowed).
    func lines(for event: RequestEvent, _ entities: Entities) -> [String] {
        let status = Int(event.status)
        if let allowStatus, !allowStatus.contains(where: { $0.contains(status) }) { return [] }
        let proxied = event.upstreamFirstByteAt != 0
        var out: [String] = []
        for metric in metrics {
            let consumer = consumerID(entities.consumer, metric.consumerIdentifier)
            let workspace = metric.workspaceIdentifier == "workspace_name" ? Self.defaultWorkspaceName : EntityJSON.defaultWorkspaceID
            let value: Double?
            let stat: String
            switch metric.name {
            case "request_count": (stat, value) = ("request.count", 1)
            case "request_size": (stat, value) = ("request.size", Double(event.requestBytes))
            case "response_size": (stat, value) = ("response.size", Double(event.responseBytes))
            case "latency": (stat, value) = ("latency", Double(event.totalLatencyNanos / 1_000_000))
            case "upstream_latency": (stat, value) = ("upstream_latency", proxied ? Double(event.upstreamLatencyNanos / 1_000_000) : nil)
            case "kong_latency": (stat, value) = ("kong_latency", Double(event.gatewayLatencyNanos / 1_000_000))
            default:
                // the per-status and per-user counters: not in tag mode (Kong's log.lua)
                guard tagStyle == nil else { continue }
                let scope = self.scope(entities.service, metric.serviceIdentifier)
                switch metric.name {
                case "status_count": out.append("\(prefix).\(scope).status.\(status):1|c\(metric.rate)")
                case "unique_users":
                    if let consumer { out.append("\(prefix).\(scope).user.uniques:\(consumer)|s") }
                case "request_per_user":
                    if let consumer { out.append("\(prefix).\(scope).user.\(consumer).request.count:1|c\(metric.rate)") }
                case "status_count_per_user":
                    if let consumer { out.append("\(prefix).\(scope).user.\(consumer).status.\(status):1|c\(metric.rate)") }
                case "status_count_per_workspace":
                    out.append("\(prefix).\(scope).workspace.\(workspace).status.\(status):1|c\(metric.rate)")
                case "status_count_per_user_per_route":
                    if let consumer, let route = entities.route {
                        out.append("\(prefix).route.\(route.id).user.\(consumer).status.\(status):1|c\(metric.rate)")
                    }
                default:
                    break  // shdict_usage: Argus has no Lua shared dictionaries to report
                }
                continue
            }
            guard let value else { continue }
            let text = Self.number(value)
            guard let tagStyle, let service = serviceID(entities.service, metric.serviceIdentifier) else {
                if tagStyle != nil {
                    out.append("\(prefix).\(stat):\(text)|\(metric.kind)\(metric.rate)")
                } else {
                    out.append("\(prefix).\(scope(entities.service, metric.serviceIdentifier)).\(stat):\(text)|\(metric.kind)\(metric.rate)")
                }
                continue
            }
            var tags: [(String, String)] = [("service", service)]
            if let route = entities.route { tags.append(("route", route.name ?? route.id)) }
            tags.append(("workspace", workspace))
            if let consumer { tags.append(("consumer", consumer)) }
            tags.append(("node", hostname))
            tags.append(("status", String(status)))
            out.append(Self.tagged("\(prefix).\(stat)", text, metric, tags, style: tagStyle))
        }
        return out
    }

    static func tagged(_ name: String, _ value: String, _ metric: Metric, _ tags: [(String, String)], style: String) -> String {
        switch style {
        case "dogstatsd":
            return "\(name):\(value)|\(metric.kind)\(metric.rate)|#" + tags.map { "\($0.0):\($0.1)" }.joined(separator: ",")
        case "influxdb":
            return "\(name)," + tags.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + ":\(value)|\(metric.kind)\(metric.rate)"
        case "librato":
            return "\(name)#" + tags.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + ":\(value)|\(metric.kind)\(metric.rate)"
        default:  // signalfx
            return "\(name)[" + tags.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "]:\(value)|\(metric.kind)\(metric.rate)"
        }
    }

    /// `service.<identifier>` (dots as `_`; `unnamed` without one), or `global.unmatched`.
    func scope(_ service: Service?, _ identifier: String) -> String {
        guard let service else { return "global.unmatched" }
        return "service." + (serviceID(service, identifier)?.replacingOccurrences(of: ".", with: "_") ?? "unnamed")
    }

    func serviceID(_ service: Service?, _ identifier: String) -> String? {
        guard let service else { return nil }
        switch identifier {
        case "service_id": return service.id
        case "service_name": return service.name
        case "service_host": return service.host
        default: return service.name ?? service.host
        }
    }

    func consumerID(_ consumer: Consumer?, _ identifier: String) -> String? {
        guard let consumer else { return nil }
        switch identifier {
        case "consumer_id": return consumer.id
        case "username": return consumer.username
        default: return consumer.customID
        }
    }

    /// The lines as what is sent: each its own datagram, or (a packet size set) joined by `\n`
    /// into packets as Kong's statsd_logger fills them (a line alone past the size goes alone).
    func packets(_ lines: [String]) -> [[UInt8]] {
        guard packetSize > 0, !useTCP else { return lines.map { Array($0.utf8) } }
        var packets: [[UInt8]] = []
        var buffer: [String] = []
        var size = 0
        for line in lines {
            let length = line.utf8.count
            if size + length <= packetSize {
                buffer.append(line)
                size += length + 1
            } else if size == 0 {
                buffer = [line]
                size = length
            } else {
                packets.append(Array(buffer.joined(separator: "\n").utf8))
                buffer = [line]
                size = length
            }
        }
        if !buffer.isEmpty { packets.append(Array(buffer.joined(separator: "\n").utf8)) }
        return packets
    }
}
