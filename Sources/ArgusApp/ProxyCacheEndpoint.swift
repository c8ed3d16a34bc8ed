import ArgusSnapshot
import ArgusCache
import ArgusConfig
import ArgusEvents
import ArgusHTTP
import ArgusStatistics
import Foundation
import NIOCore

/// Kong's proxy-cache Admin API: `DELETE /proxy-cache` (every entry), `GET|DELETE
/// /proxy-cache/{key}` and `GET|DELETE /proxy-cache/{plugin}/caches/{key}` (one entry; the
/// store is shared by every instance, so the plugin part only has to name a proxy-cache plugin).
enum ProxyCacheEndpoint {
    static func respond(_ request: ControlRequest, store: ProxyCacheStore, config: DeclarativeConfig, now: Double) -> ControlResponse? {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.first == "proxy-cache" else { return nil }
        let key: String
        switch parts.count {
        case 1:
            guard request.method == "DELETE" else { return notAllowed("DELETE") }
            store.purgeAll()
            return ControlResponse(status: 204, contentType: "", body: [])
        case 2:
            key = parts[1]
        case 4 where parts[2] == "caches":
            guard config.plugins.contains(where: { $0.name == "proxy-cache" && ($0.id == parts[1] || $0.instanceName == parts[1]) }) else {
                return .json(404, "{\"message\":\"Not found\"}")
            }
            key = parts[3]
        default:
            return .json(404, "{\"message\":\"Not found\"}")
        }
        switch request.method {
        case "GET", "HEAD":
            guard let entry = store.peek(key), entry.expiresAt > now else { return .json(404, "{\"message\":\"Not found\"}") }
            return ControlResponse(status: 200, contentType: "application/json; charset=utf-8", body: Array(JSONText.encode(describe(entry)).utf8))
        case "DELETE":
            return store.purge(key) ? ControlResponse(status: 204, contentType: "", body: []) : .json(404, "{\"message\":\"Not found\"}")
        default:
            return notAllowed("GET, HEAD, DELETE")
        }
    }

    /// An entry as Kong shows it: status, headers, body length, when stored, TTL.
    static func describe(_ entry: CachedResponse) -> JSONValue {
        var headers: [String: JSONValue] = [:]
        for field in entry.head.fields {
            let name = entry.head.string(field.nameStart..<(field.nameStart + field.nameLength)).lowercased()
            let value = entry.head.string(field.valueStart..<(field.valueStart + field.valueLength))
            switch headers[name] {
            case nil: headers[name] = .string(value)
            case .array(let list)?: headers[name] = .array(list + [.string(value)])
            case let existing?: headers[name] = .array([existing, .string(value)])
            }
        }
        return .object([
            "key": .string(entry.key), "status": .int(entry.head.status), "headers": .object(headers),
            "body_len": .int(entry.body.readableBytes), "timestamp": .int(Int(entry.storedAt)), "ttl": .double(entry.ttl),
            "version": .int(1),
        ])
    }

    static func notAllowed(_ allow: String) -> ControlResponse {
        var response = ControlResponse.json(405, "{\"message\":\"Method not allowed\"}")
        response.headers.append(("Allow", allow))
        return response
    }
}

/// The proxy-cache store's own figures on /metrics.
struct ProxyCacheStatistics: ReportsStatistics {
    let store: ProxyCacheStore

    func statistics() -> [ExporterStatistic] {
        let s = store.statistics
        return [
            ExporterStatistic(family: "argus_proxy_cache_entries", kind: .gauge, help: "Responses proxy-cache holds", value: Double(s.entries)),
            ExporterStatistic(
                family: "argus_proxy_cache_bytes", kind: .gauge, help: "Bytes proxy-cache holds (heads, bodies, keys)", value: Double(s.bytes)),
            ExporterStatistic(
                family: "argus_proxy_cache_budget_bytes", kind: .gauge, help: "proxy-cache's memory budget", value: Double(store.budget)),
            ExporterStatistic(
                family: "argus_proxy_cache_evictions_total", kind: .counter,
                help: "Entries proxy-cache dropped to stay within its budget (least recently used first)", value: Double(s.evictions)),
            ExporterStatistic(
                family: "argus_proxy_cache_waiting_requests", kind: .gauge,
                help: "Requests waiting for another request's fetch of the same key (miss coalescing)", value: Double(s.waiters)),
        ]
    }
}
