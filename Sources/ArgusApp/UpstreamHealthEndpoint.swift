import ArgusConfig
import ArgusDNS
import ArgusHealth
import ArgusProxy
import ArgusSnapshot
import Foundation

/// Kong's `GET /upstreams/{upstream}/health` (with `?balancer_health=1`) and
/// `PUT /upstreams/{upstream}/targets/{target}/healthy|unhealthy` (kong-compat §9), on this
/// node's view of its targets.
enum UpstreamHealthEndpoint {
    static func respond(_ request: ControlRequest, snapshot: ConfigSnapshot, registry: HealthRegistry, nodeID: String) -> ControlResponse? {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map { $0.removingPercentEncoding ?? String($0) }
        guard parts.count >= 3, parts[0] == "upstreams" else { return nil }
        let config = snapshot.config
        guard let upstream = config.upstreams.first(where: { $0.id == parts[1] || $0.name == parts[1] }) else {
            return .json(404, "{\"message\":\"Not found\"}")
        }
        let targets = config.targets.filter { $0.upstreamID == upstream.id }
        switch (request.method, parts.count, parts[2]) {
        case ("GET", 3, "health"), ("HEAD", 3, "health"):
            let hosts = targets.map { hostJSON($0, upstream: upstream, snapshot: snapshot) }
            if request.query.split(separator: "&").contains(where: { $0 == "balancer_health=1" || $0 == "balancer_health=true" }) {
                let total = targets.map(\.weight).reduce(0, +)
                let available = targets.filter { isAvailable($0, upstream, snapshot) }.map(\.weight).reduce(0, +)
                let threshold = HealthcheckSettings(upstream.healthchecks).threshold
                let healthy = total > 0 && Double(available) * 100 > threshold * Double(total)
                let enabled = snapshot.healthchecksEnabled(upstream: upstream.name)
                let body: [String: Any] = [
                    "data": [
                        "id": upstream.id, "health": enabled ? (healthy ? "HEALTHY" : "UNHEALTHY") : "HEALTHCHECKS_OFF",
                        "balancer_health": healthy ? "HEALTHY" : "UNHEALTHY",
                        "details": [
                            "healthy": healthy, "hosts": hosts,
                            "weight": ["total": total, "available": available, "unavailable": total - available],
                        ] as [String: Any],
                    ] as [String: Any],
                    "next": NSNull(), "node_id": nodeID,
                ]
                return json(200, body)
            }
            return json(200, ["data": hosts, "next": NSNull(), "node_id": nodeID])
        case ("PUT", 5, "targets") where parts[4] == "healthy" || parts[4] == "unhealthy":
            guard let target = targets.first(where: { $0.id == parts[3] || $0.target == parts[3] }),
                  let health = snapshot.targetHealth(upstream: upstream.name, target: target.target)
            else { return .json(404, "{\"message\":\"Not found\"}") }
            registry.set(health, healthy: parts[4] == "healthy")
            return ControlResponse(status: 204, contentType: "", body: [])
        default:
            var response = ControlResponse.json(405, "{\"message\":\"Method not allowed\"}")
            response.headers.append(("Allow", parts.count == 5 ? "PUT" : "GET, HEAD"))
            return response
        }
    }

    static func isAvailable(_ target: Target, _ upstream: Upstream, _ snapshot: ConfigSnapshot) -> Bool {
        target.weight > 0 && snapshot.targetHealth(upstream: upstream.name, target: target.target)?.isHealthy != false
    }

    /// One target as Kong reports it, with its one address.
    static func hostJSON(_ target: Target, upstream: Upstream, snapshot: ConfigSnapshot) -> [String: Any] {
        let state = target.weight == 0 ? "HEALTHCHECKS_OFF" : snapshot.healthState(upstream: upstream.name, target: target.target).uppercased()
        let available = isAvailable(target, upstream, snapshot) ? target.weight : 0
        // a name resolved through DNS: its addresses (SRV: with their ports and weights)
        let resolved = snapshot.resolved[target.host]
        let addresses: [[String: Any]] = resolved.map { name in
            name.addresses.map { ["ip": $0.ip, "port": $0.port ?? target.port, "weight": $0.weight, "health": state] as [String: Any] }
        } ?? [["ip": target.host, "port": target.port, "weight": target.weight, "health": state]]
        let dns = resolved.map { $0.addresses.contains { $0.port != nil } ? "SRV" : "A" } ?? "A"
        return [
            "id": target.id, "created_at": target.createdAt, "updated_at": target.updatedAt, "upstream": ["id": upstream.id],
            "target": target.target, "weight": target.weight, "tags": target.tags.map { $0 as Any } ?? NSNull(), "health": state,
            "data": [
                "host": target.host, "port": target.port, "dns": dns, "nodeWeight": target.weight,
                "weight": ["total": target.weight, "available": available, "unavailable": target.weight - available],
                "addresses": addresses,
            ] as [String: Any],
        ]
    }

    static func json(_ status: Int, _ body: [String: Any]) -> ControlResponse {
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        return ControlResponse(status: status, contentType: "application/json; charset=utf-8", body: Array(data))
    }
}
