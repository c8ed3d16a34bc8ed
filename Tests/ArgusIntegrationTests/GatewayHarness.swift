import NIOCore
import ArgusApp
import ArgusEvents
import ArgusProxy
import Foundation
import Logging
import ServiceLifecycle

/// Runs a whole gateway in-process on 127.0.0.1:0 with a kong.yml written to a temp directory.
final class GatewayHarness: Sendable {
    let gateway: Gateway
    let proxyPort: Int
    let adminPort: Int
    let statusPort: Int
    /// The first proxy listener with `ssl`, if the settings added one.
    let tlsPort: Int?
    let directory: String
    /// The gateway runs in a ServiceGroup, as in `argus start`: its exporters drain the event ring.
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    init(yaml: String, exporters: [any EventExporter] = [], settings: (inout GatewaySettings) -> Void = { _ in }) async throws {
        directory = NSTemporaryDirectory() + "argus-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configPath = directory + "/kong.yml"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        var s = GatewaySettings(
            configPath: configPath, proxyListen: .init(host: "127.0.0.1", port: 0),
            adminListen: .init(host: "127.0.0.1", port: 0), statusListen: .init(host: "127.0.0.1", port: 0),
            dataDirectory: directory + "/data", workers: 1, drainTimeout: .seconds(5))
        settings(&s)
        var logger = Logger(label: "argus-test")
        logger.logLevel = .warning
        gateway = try Gateway(settings: s, logger: logger, exporters: exporters)
        let addresses = try await gateway.start()
        proxyPort = addresses.proxy.port!
        adminPort = addresses.admin.port!
        statusPort = addresses.status.port!
        tlsPort = addresses.proxyTLS?.port
        let group = ServiceGroup(configuration: .init(services: [gateway], logger: logger))
        self.group = group
        running = Task { try await group.run() }
    }

    var configPath: String { directory + "/kong.yml" }

    /// Graceful shutdown: the proxy drains, the exporters flush.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A config with one service pointing at `port` and one route.
    static func yaml(port: Int, route: String = "paths: [\"/\"]", service: String = "", extra: String = "") -> String {
        """
        _format_version: "3.0"
        services:
          - name: backend
            url: http://127.0.0.1:\(port)
        \(service.isEmpty ? "" : "    " + service)
            routes:
              - name: main
                \(route)
        \(extra)
        """
    }

    /// One request on a fresh connection (to the proxy listener unless `port` is given).
    func request(_ raw: String, port: Int? = nil) async throws -> RawClient.Response? {
        let client = try await RawClient(port: port ?? proxyPort)
        try await client.send(raw)
        let response = try await client.readResponse(isHEAD: raw.hasPrefix("HEAD "))
        await client.close()
        return response
    }
}
