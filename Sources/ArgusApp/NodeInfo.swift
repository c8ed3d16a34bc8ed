import Foundation

/// The Admin API's `GET /` body, in Kong's shape where Argus has the same facts.
enum NodeInfo {
    static let version = "0.1.0"

    static func json(nodeID: String, settings: GatewaySettings) -> String {
        let body: [String: Any] = [
            "tagline": "Welcome to argus",
            "version": version,
            "edition": "community",
            "hostname": ProcessInfo.processInfo.hostName,
            "node_id": nodeID,
            "configuration": [
                "proxy_listen": [settings.proxyListen.description],
                "admin_listen": [settings.adminListen.description],
                "status_listen": [settings.statusListen.description],
                "declarative_config": settings.configPath ?? NSNull(),
                "database": "off",
                "router_flavor": "traditional_compatible",
                "prefix": settings.dataDirectory,
                "nginx_worker_processes": settings.workers,
            ] as [String: Any],
            "pids": ["master": Int(ProcessInfo.processInfo.processIdentifier)],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
