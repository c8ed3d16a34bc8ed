import ArgusSnapshot
import ArgusAdmin
import ArgusCache
import ArgusCompression
import ArgusConfig
import ArgusDNS
import ArgusEvents
import ArgusHealth
import ArgusLogging
import ArgusMetrics
import ArgusProxy
import ArgusRateLimit
import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// The Admin and Status APIs' own endpoints (everything that is not an entity of the Admin API):
/// `/`, `/status`, `/status/ready`, `/metrics`, proxy-cache purges, upstream health, rate-limiting usage.
extension Gateway {
    func adminResponse(_ request: ControlRequest) async -> ControlResponse {
        let started = Date()
        var response: ControlResponse
        if request.method == "OPTIONS" {
            // (a browser's preflight carries no credentials: it is answered without the token)
            response = await preflight(request)
        } else if let token = settings.adminToken, !Self.authorized(request, token: token) {
            response = .json(401, "{\"message\":\"Unauthorized\"}")
        } else {
            response = await adminRoute(request)
        }
        // Kong's cors_filter (`kong/api/api_helpers.lua`), on every answer
        response.headers.append(("Access-Control-Allow-Origin", request.origin.isEmpty ? "*" : request.origin))
        response.headers.append(("Access-Control-Allow-Credentials", "true"))
        response.headers.append(("X-Kong-Admin-Latency", String(Int(Date().timeIntervalSince(started) * 1000))))
        return response
    }

    /// `OPTIONS` on an Admin API path: 204 with the methods it takes (`Allow` and
    /// `Access-Control-Allow-Methods`, sorted, with HEAD and OPTIONS) and the headers asked for
    /// (`Content-Type` by default), as Kong's `options_method`; an unknown path is 404.
    func preflight(_ request: ControlRequest) async -> ControlResponse {
        let probe = await adminRoute(request)  // every route refuses OPTIONS with its Allow list
        guard probe.status == 405, let allow = probe.headers.first(where: { $0.0 == "Allow" })?.1 else { return probe }
        var methods = Set(allow.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        methods.insert("OPTIONS")
        if methods.contains("GET") { methods.insert("HEAD") }
        let list = methods.sorted().joined(separator: ", ")
        return ControlResponse(
            status: 204, contentType: "application/json; charset=utf-8", body: [],
            headers: [("Allow", list), ("Access-Control-Allow-Methods", list),
                      ("Access-Control-Allow-Headers", request.corsRequestHeaders ?? "Content-Type")])
    }

    /// `Authorization: Bearer <token>` or `Kong-Admin-Token: <token>`, compared in constant time.
    static func authorized(_ request: ControlRequest, token: String) -> Bool {
        var given = request.adminToken
        let authorization = request.authorization
        if authorization.lowercased().hasPrefix("bearer ") { given = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
        let a = Array(given.utf8)
        let b = Array(token.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<b.count { difference |= b[i] ^ (i < a.count ? a[i] : 0) }
        return difference == 0
    }

    func adminRoute(_ request: ControlRequest) async -> ControlResponse {
        if let api = adminAPI.withLockedValue({ $0 }),
           let answer = await api.respond(AdminRequest(
               method: request.method, path: request.path, query: request.query, contentType: request.contentType, body: request.body)) {
            return ControlResponse(
                status: answer.status, contentType: answer.contentType, body: answer.body, headers: answer.headers)
        }
        let readOnly = request.method == "GET" || request.method == "HEAD"
        switch request.path {
        case "/":
            return readOnly ? .json(200, NodeInfo.json(nodeID: nodeID, settings: settings, config: store.snapshot.config)) : Self.methodNotAllowed
        case "/status":
            return readOnly ? .json(200, await statusJSON()) : Self.methodNotAllowed
        case "/metrics":
            return readOnly ? await metricsResponse(request) : Self.methodNotAllowed
        case let path where path == "/proxy-cache" || path.hasPrefix("/proxy-cache/"):
            return ProxyCacheEndpoint.respond(
                request, store: proxy.proxyCache, config: store.snapshot.config,
                now: Double(settings.proxy.wallClockMilliseconds()) / 1000) ?? .json(404, "{\"message\":\"Not found\"}")
        case let path where path.hasPrefix("/upstreams/"):
            return UpstreamHealthEndpoint.respond(request, snapshot: store.snapshot, registry: health, nodeID: nodeID)
                ?? .json(404, "{\"message\":\"Not found\"}")
        case "/rate-limiting/usage":
            guard readOnly else { return Self.methodNotAllowed }
            return await RateLimitUsageEndpoint.respond(
                query: request.query, config: store.snapshot.config, reader: usageReader,
                nowMs: settings.proxy.wallClockMilliseconds())
        default:
            return .json(404, "{\"message\":\"Not found\"}")
        }
    }

    static let methodNotAllowed = ControlResponse(
        status: 405, contentType: "application/json; charset=utf-8", body: Array("{\"message\":\"Method not allowed\"}".utf8),
        headers: [("Allow", "GET, HEAD")])

    func statusResponse(_ request: ControlRequest) async -> ControlResponse {
        switch (request.method, request.path) {
        case ("GET", "/status"), ("HEAD", "/status"):
            return .json(200, await statusJSON())
        case ("GET", "/status/ready"), ("HEAD", "/status/ready"):
            return started.withLockedValue { $0 }
                ? .json(200, "{\"message\":\"ready\"}") : .json(503, "{\"message\":\"not ready\"}")
        case ("GET", "/metrics"), ("HEAD", "/metrics"):
            return await metricsResponse(request)
        default:
            return .json(404, "{\"message\":\"Not found\"}")
        }
    }

    /// `GET /metrics`: the Prometheus text exposition, or OpenMetrics (with trace exemplars on the
    /// latency buckets) when the scraper asks for it, gzip-compressed when it accepts that.
    func metricsResponse(_ request: ControlRequest) async -> ControlResponse {
        let openMetrics = request.acceptsOpenMetrics
        let body = await prometheus.render(openMetrics: openMetrics)
        let contentType = openMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8" : "text/plain; version=0.0.4; charset=utf-8"
        if request.acceptsGzip, let compressed = Gzip.compress(body) {
            return ControlResponse(status: 200, contentType: contentType, body: compressed,
                                   headers: [("Content-Encoding", "gzip"), ("Vary", "Accept, Accept-Encoding")])
        }
        return ControlResponse(status: 200, contentType: contentType, body: body, headers: [("Vary", "Accept, Accept-Encoding")])
    }

    func statusJSON() async -> String {
        let stats = proxy.stats
        let states = await proxy.connectionStates()
        let server: [String: Int] = [
            "connections_accepted": stats.connectionsAccepted, "connections_handled": stats.connectionsAccepted,
            "connections_active": stats.connectionsActive, "total_requests": stats.totalRequests,
            "connections_reading": states.reading, "connections_writing": states.writing, "connections_waiting": states.waiting,
        ]
        var body: [String: Any] = ["server": server, "configuration": ["summary": store.snapshot.config.summary]]
        if let api = adminAPI.withLockedValue({ $0 }) {
            if api.store.isDeclarative {
                body["configuration_hash"] = await api.store.configurationHash ?? String(repeating: "0", count: 32)
            } else {
                body["database"] = ["reachable": await api.store.databaseReachable()]
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
