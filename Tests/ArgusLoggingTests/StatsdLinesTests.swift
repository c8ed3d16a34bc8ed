import ArgusConfig
import ArgusEvents
import Foundation
import Testing

@testable import ArgusLogging

/// Kong's statsd lines (`kong/plugins/statsd/log.lua`, `spec/03-plugins/06-statsd/01-log_spec.lua`).
@Suite struct StatsdLinesTests {
    let config: DeclarativeConfig

    init() throws {
        config = try ConfigLoader.parse(text: """
            _format_version: "3.0"
            services:
              - name: statsd1
                host: 127.0.0.1
                routes: [{id: 6d3bb8d4-7f3f-4a19-a0d9-2d9b0b6d2a11, paths: ["/"]}]
              - {host: up.example.test}
            consumers: [{username: bob, custom_id: robert}]
            """, file: "kong.yml")
    }

    func event(status: UInt16 = 200, proxied: Bool = true) -> RequestEvent {
        var e = RequestEvent()
        e.status = status
        e.receivedAt = 1_000_000_000
        e.upstreamSentAt = proxied ? 1_002_000_000 : 0
        e.upstreamFirstByteAt = proxied ? 1_009_000_000 : 0
        e.completedAt = 1_012_000_000
        e.requestBytes = 110
        e.responseBytes = 350
        return e
    }

    func lines(_ plugin: String, _ event: RequestEvent, service: Int? = 0, consumer: Bool = true) throws -> [String] {
        let parsed = try ConfigLoader.parse(text: "_format_version: \"3.0\"\nplugins: [\(plugin)]", file: "k.yml").plugins[0].config
        let statsd = StatsdLines(config: parsed, hostname: "my.host")
        return statsd.lines(for: event, .init(
            service: service.map { config.services[$0] }, route: service == 0 ? config.routes[0] : nil,
            consumer: consumer ? config.consumers[0] : nil))
    }

    /// E1: the default metrics, with a consumer (custom_id `robert`).
    @Test func theDefaultMetrics() throws {
        let out = try lines("{name: statsd}", event())
        #expect(out == [
            "kong.service.statsd1.request.count:1|c", "kong.service.statsd1.latency:12|ms", "kong.service.statsd1.request.size:110|c",
            "kong.service.statsd1.status.200:1|c", "kong.service.statsd1.response.size:350|c", "kong.service.statsd1.user.uniques:robert|s",
            "kong.service.statsd1.user.robert.request.count:1|c", "kong.service.statsd1.upstream_latency:7|ms",
            "kong.service.statsd1.kong_latency:2|ms", "kong.service.statsd1.user.robert.status.200:1|c",
            "kong.service.statsd1.workspace.\(EntityJSON.defaultWorkspaceID).status.200:1|c",
            "kong.route.6d3bb8d4-7f3f-4a19-a0d9-2d9b0b6d2a11.user.robert.status.200:1|c",
        ])
    }

    /// The 404 of no route: `global.unmatched`, no upstream latency, no consumer metrics.
    @Test func anUnmatchedRequest() throws {
        let out = try lines("{name: statsd}", event(status: 404, proxied: false), service: nil, consumer: false)
        #expect(out == [
            "kong.global.unmatched.request.count:1|c", "kong.global.unmatched.latency:12|ms", "kong.global.unmatched.request.size:110|c",
            "kong.global.unmatched.status.404:1|c", "kong.global.unmatched.response.size:350|c", "kong.global.unmatched.kong_latency:12|ms",
            "kong.global.unmatched.workspace.\(EntityJSON.defaultWorkspaceID).status.404:1|c",
        ])
    }

    /// E2/E3: identifiers, stat types, sample rates; a host's dots as `_`; a prefix; the hostname.
    @Test func identifiersTypesAndNames() throws {
        #expect(try lines("{name: statsd, config: {metrics: [{name: request_per_user, stat_type: counter, sample_rate: 1, consumer_identifier: username}]}}", event())
            == ["kong.service.statsd1.user.bob.request.count:1|c"])
        #expect(try lines("{name: statsd, config: {metrics: [{name: latency, stat_type: gauge, sample_rate: 0.5}]}}", event())
            == ["kong.service.statsd1.latency:12|g|@0.5"])
        #expect(try lines("{name: statsd, config: {metrics: [{name: request_count, stat_type: counter, sample_rate: 1, service_identifier: service_host}]}}", event())
            == ["kong.service.127_0_0_1.request.count:1|c"])
        #expect(try lines("{name: statsd, config: {prefix: prefix, hostname_in_prefix: true, metrics: [{name: request_count, stat_type: counter, sample_rate: 1}]}}", event(), service: 1)
            == ["prefix.node.my_host.service.up_example_test.request.count:1|c"])
        #expect(try lines("{name: statsd, config: {metrics: [{name: status_count_per_workspace, stat_type: counter, sample_rate: 1, workspace_identifier: workspace_name}]}}", event())
            == ["kong.service.statsd1.workspace.default.status.200:1|c"])
        #expect(try lines("{name: statsd, config: {allow_status_codes: [\"400-499\"]}}", event()).isEmpty)
    }

    /// E6: tag styles (no scope; the status and user counters are not sent).
    @Test func tagStyles() throws {
        let metric = "metrics: [{name: request_count, stat_type: counter, sample_rate: 1}, {name: status_count, stat_type: counter, sample_rate: 1}]"
        let tags = "service:statsd1,route:6d3bb8d4-7f3f-4a19-a0d9-2d9b0b6d2a11,workspace:\(EntityJSON.defaultWorkspaceID),consumer:robert,node:my_host,status:200"
        #expect(try lines("{name: statsd, config: {tag_style: dogstatsd, \(metric)}}", event()) == ["kong.request.count:1|c|#" + tags])
        let equals = tags.replacingOccurrences(of: ":", with: "=")
        #expect(try lines("{name: statsd, config: {tag_style: influxdb, \(metric)}}", event()) == ["kong.request.count,\(equals):1|c"])
        #expect(try lines("{name: statsd, config: {tag_style: librato, \(metric)}}", event()) == ["kong.request.count#\(equals):1|c"])
        #expect(try lines("{name: statsd, config: {tag_style: signalfx, \(metric)}}", event()) == ["kong.request.count[\(equals)]:1|c"])
    }

    /// E4: lines joined into packets of `udp_packet_size` as Kong fills them.
    @Test func packets() throws {
        let statsd = StatsdLines(config: .object(["udp_packet_size": .int(100)]))
        let a = "kong.service.statsd20.request.count:1|c", b = "kong.service.statsd20.upstream_latency:3|ms"
        let c = "kong.service.statsd20.kong_latency:1|ms"
        #expect(statsd.packets([a, b, c]).map { String(decoding: $0, as: UTF8.self) } == [a + "\n" + b, c])
        #expect(StatsdLines(config: .object(["udp_packet_size": .int(500)])).packets([a, b, c]).count == 1)
        #expect(StatsdLines(config: .object([:])).packets([a, b, c]).count == 3)
    }
}
