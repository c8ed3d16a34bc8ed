import ArgusConfig
import ArgusEvents
import Foundation
import Testing

@testable import ArgusLogging

/// Kong's datadog lines (`spec/03-plugins/08-datadog/01-log_spec.lua`) and loggly frames
/// (`spec/03-plugins/07-loggly/01-log_spec.lua`).
@Suite struct DatadogAndLogglyTests {
    let config: DeclarativeConfig

    init() throws {
        config = try ConfigLoader.parse(text: """
            _format_version: "3.0"
            services: [{name: dd1, host: 127.0.0.1, routes: [{paths: ["/"]}]}]
            consumers: [{username: foo, custom_id: bar}]
            """, file: "kong.yml")
    }

    func event() -> RequestEvent {
        var e = RequestEvent()
        e.status = 200
        e.receivedAt = 1_000_000_000
        e.upstreamSentAt = 1_002_000_000
        e.upstreamFirstByteAt = 1_009_000_000
        e.completedAt = 1_012_000_000
        e.requestBytes = 110
        e.responseBytes = 350
        return e
    }

    func lines(_ plugin: String, consumer: Bool = true) throws -> [String] {
        let parsed = try ConfigLoader.parse(text: "_format_version: \"3.0\"\nplugins: [\(plugin)]", file: "k.yml").plugins[0].config
        return DatadogLines(config: parsed).lines(for: event(), .init(
            service: config.services[0], route: config.routes[0], consumer: consumer ? config.consumers[0] : nil))
    }

    @Test func theDefaultMetrics() throws {
        #expect(try lines("{name: datadog}") == [
            "kong.request.count:1|c|#name:dd1,status:200,consumer:bar,app:kong", "kong.latency:12|ms|#name:dd1,status:200,consumer:bar,app:kong",
            "kong.request.size:110|ms|#name:dd1,status:200,consumer:bar,app:kong", "kong.response.size:350|ms|#name:dd1,status:200,consumer:bar,app:kong",
            "kong.upstream_latency:7|ms|#name:dd1,status:200,consumer:bar,app:kong", "kong.kong_latency:2|ms|#name:dd1,status:200,consumer:bar,app:kong",
        ])
    }

    @Test func tagNamesPrefixesAndMetricTags() throws {
        // DDS:375
        #expect(try lines("{name: datadog, config: {service_name_tag: upstream, status_tag: http_status, consumer_tag: user}}").first
            == "kong.request.count:1|c|#upstream:dd1,http_status:200,user:bar,app:kong")
        // DDS:352
        #expect(try lines("{name: datadog, config: {prefix: prefix}}").first == "prefix.request.count:1|c|#name:dd1,status:200,consumer:bar,app:kong")
        // DDS:399 and 416-418: no tags, no consumer identifier; tags as configured; gauge and distribution
        #expect(try lines("{name: datadog, config: {metrics: [{name: request_count, stat_type: counter, sample_rate: 1}]}}", consumer: false)
            == ["kong.request.count:1|c|#name:dd1,status:200"])
        #expect(try lines("""
            {name: datadog, config: {metrics: [{name: request_count, stat_type: counter, sample_rate: 1, tags: ["T2:V2", "T3:V3", "T4"]},
              {name: latency, stat_type: gauge, sample_rate: 1, tags: ["T2:V2:V3", "T4"]}, {name: request_size, stat_type: distribution, tags: []}]}}
            """, consumer: false) == [
            "kong.request.count:1|c|#name:dd1,status:200,T2:V2,T3:V3,T4", "kong.latency:12|g|#name:dd1,status:200,T2:V2:V3,T4",
            "kong.request.size:110|d|#name:dd1,status:200",
        ])
    }

    /// LGS:237-273: PRI 8 + severity; nothing below log_level; the key and tags as structured data.
    @Test func logglyFrames() throws {
        func frame(_ plugin: String, status: Int) throws -> String? {
            let parsed = try ConfigLoader.parse(text: "_format_version: \"3.0\"\nplugins: [\(plugin)]", file: "k.yml").plugins[0].config
            let framing = SyslogFraming(config: parsed, hostname: "myhost", loggly: true)
            guard let severity = framing.severity(forStatus: status) else { return nil }
            return String(decoding: Array("{}".utf8).withUnsafeBytes { framing.frame($0, severity: severity, at: Date(timeIntervalSince1970: 1_714_558_830)) }, as: UTF8.self)
        }
        #expect(try frame("{name: loggly, config: {key: K, log_level: info, successful_severity: warning}}", status: 200)
            == #"<12>1 2024-05-01T10:20:30Z myhost kong - - [K@41058 tag="kong"] {}"#)
        #expect(try frame("{name: loggly, config: {key: K, log_level: debug}}", status: 200)?.hasPrefix("<14>1 ") == true)
        #expect(try frame("{name: loggly, config: {key: K, log_level: crit, successful_severity: crit, client_errors_severity: warning}}", status: 200)?
            .hasPrefix("<10>1 ") == true)
        #expect(try frame("{name: loggly, config: {key: K, log_level: crit, successful_severity: crit, client_errors_severity: warning}}", status: 404) == nil)
    }
}
