import ArgusSnapshot
import ArgusConfig
import ArgusRateLimit
import Foundation

/// `GET /rate-limiting/usage?plugin=<id or instance_name>&identifier=<identifier>` on the Admin
/// API: a rate-limiting instance's current counters and remaining quota for one identifier (a
/// client address, consumer id, header value… whatever the instance's `limit_by` counts), per
/// window, as the data path would see them now. Nothing is counted.
enum RateLimitUsageEndpoint {
    static func respond(
        query: String, config: DeclarativeConfig, reader: RateLimitUsageReader, nowMs: Int64
    ) async -> ControlResponse {
        let items = URLComponents(string: "?" + query)?.queryItems ?? []
        func argument(_ name: String) -> String? { items.first { $0.name == name }?.value }
        guard let wanted = argument("plugin"), !wanted.isEmpty else {
            return .json(400, "{\"message\":\"missing query argument 'plugin' (a rate-limiting instance's id or instance_name)\"}")
        }
        guard let identifier = argument("identifier"), !identifier.isEmpty else {
            return .json(400, "{\"message\":\"missing query argument 'identifier'\"}")
        }
        guard let index = config.plugins.firstIndex(where: {
            $0.name == "rate-limiting" && ($0.id == wanted || $0.instanceName == wanted)
        }) else {
            return .json(404, "{\"message\":\"Not found\"}")
        }
        let plugin = config.plugins[index]
        let plan = RateLimitPlan(plugin: plugin, index: index)
        let settings = plan.settings
        let usage: RateLimitUsage
        do {
            usage = try await reader.usage(plan, identifier: identifier, nowMs: nowMs)
        } catch {
            return .json(503, "{\"message\":\(JSONText.quote("counter store unavailable: \(error)"))}")
        }
        var windows: [String] = []
        for (period, limit) in settings.limits {
            let elapsed = (nowMs - period.windowStart(ms: nowMs)) / 1000
            let reset = max(1, period.nominalSeconds - elapsed)
            windows.append(
                "\(JSONText.quote(period.name)):{\"limit\":\(limit),\"used\":\(usage.used[period]),"
                    + "\"remaining\":\(usage.remaining[period]),\"reset\":\(reset)}")
        }
        let body = "{\"plugin\":{\"id\":\(JSONText.quote(plugin.id)),\"instance_name\":\(plugin.instanceName.map(JSONText.quote) ?? "null"),"
            + "\"policy\":\"\(settings.policy == .redis ? "redis" : "local")\",\"limit_by\":\"\(settings.limitBy.name)\","
            + "\"algorithm\":\"\(settings.algorithm == .sliding ? "sliding" : "fixed")\"},"
            + "\"identifier\":\(JSONText.quote(identifier)),\"usage\":{\(windows.joined(separator: ","))}}"
        return .json(200, body)
    }
}
