import ArgusConfig
import ArgusEvents
import Foundation
import Logging
import AsyncHTTPClient
import Testing

@testable import ArgusLogging

@Suite("how often the log exporter asks to be woken")
struct LogExporterPollTests {
    /// Version 1 has no log plugin, version 2 has a file-log.
    private func exporter(directory: String, client: HTTPClient) throws -> LogExporter {
        let plain = try ConfigLoader.parse(text: """
            _format_version: "3.0"
            services: [{name: s, url: "http://127.0.0.1:1", routes: [{name: r, paths: ["/"]}]}]
            """, file: "kong.yml")
        let logged = try ConfigLoader.parse(text: """
            _format_version: "3.0"
            services: [{name: s, url: "http://127.0.0.1:1", routes: [{name: r, paths: ["/"]}]}]
            plugins: [{name: file-log, config: {path: "\(directory)/access.log"}}]
            """, file: "kong.yml")
        let lookup: @Sendable (UInt32) -> (version: UInt32, config: DeclarativeConfig) = { v in v == 2 ? (2, logged) : (1, plain) }
        let logger = Logger(label: "test")
        let http = HTTPLogExporter(config: lookup, client: client, dataDirectory: directory, logger: logger)
        let logs = LogExporter(ring: EventRing(capacity: 64, lanes: 1), config: lookup, fileLog: FileLogExporter(logger: logger), httpLog: http)
        return logs
    }

    private func receive(_ logs: LogExporter, version: UInt32) {
        var event = RequestEvent()
        event.configVersion = version
        event.route = 0
        event.service = 0
        [event].withUnsafeBufferPointer { logs.receive($0) }
    }

    @Test
    func itPollsSlowlyOnlyWhileTheRunningConfigHasNoLogPlugin() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("argus-poll-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let client = HTTPLogExporter.makeClient()
        let logs = try exporter(directory: directory, client: client)
        #expect(logs.pollInterval == .milliseconds(5))  // before any event: assume logging
        receive(logs, version: 1)
        #expect(logs.pollInterval == .milliseconds(50))
        receive(logs, version: 2)
        #expect(logs.pollInterval == .milliseconds(5))
        receive(logs, version: 1)
        #expect(logs.pollInterval == .milliseconds(50))
        await logs.finish()
        try await client.shutdown()
    }
}
