import ArgusCompression
import ArgusConfig
import ArgusEvents
import ArgusMetrics
import Foundation
import Testing

@Suite("Plugin scoping, consumers, label budgets, reloads")
struct ScopingAndBudgetTests {
    @Test func theMostSpecificInstanceDecidesWhatIsRecorded() async throws {
        // Global: latency only. Service "a": status codes only. Route "b2": bandwidth only.
        let f = try Fixture("""
            _format_version: "3.0"
            services:
              - name: a
                url: http://127.0.0.1:9001
                routes: [{name: a1, paths: ["/a"]}]
                plugins: [{name: prometheus, config: {status_code_metrics: true}}]
              - name: b
                url: http://127.0.0.1:9002
                routes:
                  - {name: b1, paths: ["/b1"]}
                  - name: b2
                    paths: ["/b2"]
                    plugins: [{name: prometheus, config: {bandwidth_metrics: true}}]
            plugins: [{name: prometheus, config: {latency_metrics: true}}]
            """)
        f.feed([event(route: 0, service: 0), event(route: 1, service: 1), event(route: 2, service: 1),
                event(route: -1, service: -1, status: 404, upstream: false)])
        let m = await f.scrape()
        #expect(m.sum("kong_http_requests_total") == 1)
        #expect(m.sum("kong_http_requests_total", #"route="a1""#) == 1)
        #expect(m.sum("kong_kong_latency_ms_count") == 2)
        #expect(m.sum("kong_kong_latency_ms_count", #"route="b1""#) == 1)
        #expect(m.sum("kong_kong_latency_ms_count", #"route="""#) == 1)
        #expect(m.sum("kong_bandwidth_bytes", #"route="b2""#) == 1_100)
        #expect(m.sum("kong_bandwidth_bytes") == 1_100)
    }

    @Test func disabledInstancesAndRouteOnlyPluginsLeaveUnmatchedRequestsUncounted() async throws {
        let f = try Fixture("""
            _format_version: "3.0"
            services:
              - name: a
                url: http://127.0.0.1:9001
                routes:
                  - name: a1
                    paths: ["/a"]
                    plugins: [{name: prometheus, config: {status_code_metrics: true}}]
            plugins: [{name: prometheus, enabled: false, config: {status_code_metrics: true}}]
            """)
        f.feed([event(route: 0, service: 0), event(route: -1, service: -1, status: 404, upstream: false)])
        let m = await f.scrape()
        #expect(m.sum("kong_http_requests_total") == 1)
        #expect(m.sum("kong_http_requests_total", #"code="404""#) == 0)
    }

    /// Kong's exporter without an enabled prometheus instance (`metric_data(local_only)`): what
    /// was counted before is no longer exported, and Argus's own families do not name it.
    @Test func disablingTheLastInstanceDropsTheRequestFamiliesAtTheNextScrape() async throws {
        let enabled = """
            _format_version: "3.0"
            services:
              - name: a
                url: http://127.0.0.1:9001
                routes: [{name: a1, paths: ["/a"]}]
            plugins: [{name: prometheus, config: {status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true}}]
            """
        let f = try Fixture([enabled, enabled.replacingOccurrences(of: "{name: prometheus,", with: "{name: prometheus, enabled: false,")])
        f.feed([event(route: 0, service: 0, version: 1)])
        let before = try Fixture(enabled)
        before.feed([event(route: 0, service: 0, version: 1)])
        let on = await before.scrape()
        #expect(on.has(family: "kong_http_requests_total") && on.has(family: "kong_bandwidth_bytes") && on.has(family: "kong_kong_latency_ms"))
        #expect(on.text.contains(#"argus_metrics_series{family="kong_http_requests_total"}"#))
        let off = await f.scrape()
        for family in ["kong_http_requests_total", "kong_bandwidth_bytes", "kong_kong_latency_ms", "kong_request_latency_ms", "kong_upstream_latency_ms"] {
            #expect(!off.has(family: family), "\(family) exported without an enabled instance")
            #expect(!off.text.contains("family=\"\(family)\""), "argus_metrics_series names \(family)")
        }
        #expect(off.has(family: "kong_nginx_requests_total") && off.has(family: "kong_node_info"))
        // a family its flags leave off is not named either
        let statusOnly = try Fixture(enabled.replacingOccurrences(of: ", latency_metrics: true, bandwidth_metrics: true", with: ""))
        statusOnly.feed([event(route: 0, service: 0, version: 1)])
        let some = await statusOnly.scrape()
        #expect(some.text.contains(#"argus_metrics_series{family="kong_http_requests_total"}"#))
        #expect(!some.text.contains(#"family="kong_bandwidth_bytes""#) && !some.text.contains(#"family="kong_kong_latency_ms""#))
    }

    @Test func perConsumerLabelsUsernamesOnlyWhenAsked() async throws {
        let yaml = """
            _format_version: "3.0"
            consumers: [{username: alice}, {username: bob}, {custom_id: c-3}]
            services: [{name: s, url: "http://127.0.0.1:9001", routes: [{name: r, paths: ["/"]}]}]
            plugins: [{name: prometheus, config: {status_code_metrics: true, bandwidth_metrics: true, per_consumer: PER}}]
            """
        let on = try Fixture(yaml.replacingOccurrences(of: "PER", with: "true"))
        on.feed([event(consumer: 0), event(consumer: 0), event(consumer: 1), event(consumer: 2), event()])
        let m = await on.scrape()
        #expect(m.sum("kong_http_requests_total", #"consumer="alice""#) == 2)
        #expect(m.sum("kong_http_requests_total", #"consumer="bob""#) == 1)
        // No username (custom_id only) and anonymous requests: "".
        #expect(m.sum("kong_http_requests_total", #"consumer="""#) == 2)
        #expect(m.sum("kong_bandwidth_bytes", #"consumer="alice""#, #"direction="egress""#) == 2_000)

        let off = try Fixture(yaml.replacingOccurrences(of: "PER", with: "false"))
        off.feed([event(consumer: 0), event(consumer: 1)])
        let n = await off.scrape()
        #expect(n.sum("kong_http_requests_total", #"consumer="""#) == 2)
        #expect(!n.text.contains("alice"))
    }

    @Test func consumerScopedInstanceAppliesToThatConsumer() async throws {
        let f = try Fixture("""
            _format_version: "3.0"
            consumers:
              - username: vip
                plugins: [{name: prometheus, config: {status_code_metrics: true, per_consumer: true}}]
              - username: regular
            services: [{name: s, url: "http://127.0.0.1:9001", routes: [{name: r, paths: ["/"]}]}]
            plugins: [{name: prometheus, config: {latency_metrics: true}}]
            """)
        f.feed([event(consumer: 0), event(consumer: 1), event()])
        let m = await f.scrape()
        #expect(m.sum("kong_http_requests_total") == 1)
        #expect(m.sum("kong_http_requests_total", #"consumer="vip""#) == 1)
        #expect(m.sum("kong_kong_latency_ms_count") == 2)
    }

    @Test func labelValuesPastTheBudgetFoldIntoOverflowAndAreCounted() async throws {
        var consumers = ""
        for i in 0..<5 { consumers += "  - username: user\(i)\n" }
        var settings = MetricsSettings()
        settings.consumerBudget = 2
        let f = try Fixture("""
            _format_version: "3.0"
            consumers:
            \(consumers)
            services: [{name: s, url: "http://127.0.0.1:9001", routes: [{name: r, paths: ["/"]}]}]
            plugins: [{name: prometheus, config: {status_code_metrics: true, per_consumer: true}}]
            """, settings: settings)
        f.feed((0..<5).flatMap { i in Array(repeating: event(consumer: Int32(i)), count: 10) })
        let m = await f.scrape()
        #expect(m.sum("kong_http_requests_total") == 50)
        #expect(m.sum("kong_http_requests_total", #"consumer="user0""#) == 10)
        #expect(m.sum("kong_http_requests_total", #"consumer="user1""#) == 10)
        #expect(m.sum("kong_http_requests_total", #"consumer="__overflow__""#) == 30)
        #expect(m[#"argus_metrics_label_overflow_total{label="consumer"}"#] == 30)
        #expect(m.samples.filter { $0.series.hasPrefix("kong_http_requests_total{") }.count == 3)
    }

    @Test func eventsKeepTheNamesOfTheConfigVersionTheyWereServedUnder() async throws {
        let v1 = """
            _format_version: "3.0"
            services: [{name: old-service, url: "http://127.0.0.1:9001", routes: [{name: old-route, paths: ["/"]}]}]
            plugins: [{name: prometheus, config: {status_code_metrics: true}}]
            """
        let v2 = v1.replacingOccurrences(of: "old-", with: "new-")
        let f = try Fixture([v1, v2])
        f.feed([event(version: 1), event(version: 2), event(version: 2)])
        let m = await f.scrape()
        #expect(m.sum("kong_http_requests_total", #"service="old-service""#, #"route="old-route""#) == 1)
        #expect(m.sum("kong_http_requests_total", #"service="new-service""#, #"route="new-route""#) == 2)
    }
}

@Suite("Exposition details")
struct ExpositionDetailTests {
    @Test func gzipRoundTrips() async throws {
        let f = try Fixture(shopYAML)
        f.feed([event()])
        let body = await f.exporter.render()
        let compressed = try #require(Gzip.compress(body))
        #expect(compressed.count < body.count)
        #expect(compressed.prefix(2) == [0x1F, 0x8B])
        #expect(Gzip.decompress(compressed) == body)
        #expect(Gzip.decompress(Array(compressed.dropLast(5))) == nil)
    }

    @Test func scrapingAHundredThousandSeriesStaysBounded() async throws {
        // 2,000 routes × 5 codes × 10 consumers = 100,000 kong_http_requests_total series.
        var routes = ""
        for i in 0..<2_000 { routes += "      - {name: r\(i), paths: [\"/r\(i)\"]}\n" }
        var consumers = ""
        for i in 0..<10 { consumers += "  - username: c\(i)\n" }
        let f = try Fixture("""
            _format_version: "3.0"
            consumers:
            \(consumers)
            services:
              - name: s
                url: http://127.0.0.1:9001
                routes:
            \(routes)
            plugins: [{name: prometheus, config: {status_code_metrics: true, per_consumer: true}}]
            """)
        var batch: [RequestEvent] = []
        for r in 0..<2_000 {
            for code in [200, 201, 404, 500, 503] {
                for c in 0..<10 { batch.append(event(route: Int32(r), status: UInt16(code), consumer: Int32(c))) }
            }
        }
        f.feed(batch)
        let m = await f.scrape()
        #expect(m.samples.filter { $0.series.hasPrefix("kong_http_requests_total{") }.count == 100_000)
        #expect(m.sum("kong_http_requests_total") == 100_000)
    }
}
