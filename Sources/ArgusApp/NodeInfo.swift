import ArgusConfig
import Foundation

/// The Admin API's `GET /` body, in Kong's shape where Argus has the same facts.
enum NodeInfo {
    static let version = "0.1.0"

    static func json(nodeID: String, settings: GatewaySettings, config: DeclarativeConfig) -> String {
        var available: [String: Any] = [:]
        for schema in PluginRegistry.builtins { available[schema.name] = ["version": version, "priority": schema.priority] }
        let body: [String: Any] = [
            "tagline": "Welcome to argus",
            "version": version,
            "edition": "community",
            "hostname": ProcessInfo.processInfo.hostName,
            "node_id": nodeID,
            "configuration": [
                "proxy_listen": settings.proxyListeners.map(\.description),
                "admin_listen": [settings.adminListen.description],
                "status_listen": [settings.statusListen.description],
                "declarative_config": settings.configPath ?? NSNull(),
                "database": settings.configPath == nil ? "sqlite" : "off",
                "router_flavor": "traditional_compatible",
                "prefix": settings.dataDirectory,
                "nginx_worker_processes": settings.workers,
            ] as [String: Any],
            "pids": ["master": Int(ProcessInfo.processInfo.processIdentifier)],
            "plugins": [
                "available_on_server": available,
                "enabled_in_cluster": Array(Set(config.plugins.map(\.name))).sorted(),
            ] as [String: Any],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
