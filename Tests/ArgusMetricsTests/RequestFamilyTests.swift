import ArgusConfig
import ArgusEvents
import ArgusMetrics
import Testing

@Suite("Kong's request families, aggregated from events")
struct RequestFamilyTests {
    @Test func countsAreExactForEveryStatusSourceAndRouteIncludingNone() async throws {
        let f = try Fixture(shopYAML)
        var events: [RequestEvent] = []
        for i in 0..<1_000 {
            switch i % 5 {
            case 0: events.append(event(route: 0, service: 0, status: 200))
            case 1: events.append(event(route: 1, service: 0, status: 503, upstream: true))
            case 2: events.append(event(route: 2, service: 1, status: 502, upstream: false))
            case 3: events.append(event(route: -1, service: -1, status: 404, upstream: false))
            default: events.append(event(route: -1, service: -1, status: 400, upstream: false))
            }
        }
        f.feed(events)
        let m = await f.scrape()
        #expect(m.sum("kong_http_requests_total") == 1_000)
        #expect(m[#"kong_http_requests_total{service="orders",route="orders-list",code="200",source="service",workspace="default",consumer=""}"#] == 200)
        #expect(m[#"kong_http_requests_total{service="orders",route="orders-admin",code="503",source="service",workspace="default",consumer=""}"#] == 200)
        // Unnamed service: its host; unnamed route: its id.
        #expect(m[#"kong_http_requests_total{service="billing.internal",route="5a1f3d4e-0000-4000-8000-000000000001",code="502",source="kong",workspace="default",consumer=""}"#] == 200)
        // Beyond Kong: requests that matched no route are counted, service and route empty.
        #expect(m[#"kong_http_requests_total{service="",route="",code="404",source="kong",workspace="default",consumer=""}"#] == 200)
        #expect(m[#"kong_http_requests_total{service="",route="",code="400",source="kong",workspace="default",consumer=""}"#] == 200)
        #expect(m.sum("kong_kong_latency_ms_count") == 1_000)
        #expect(m.sum("kong_request_latency_ms_count") == 1_000)
        // Upstream latency only for requests that reached an upstream.
        #expect(m.sum("kong_upstream_latency_ms_count") == 400)
        #expect(m.sum("kong_bandwidth_bytes", #"direction="ingress""#) == 100_000)
        #expect(m.sum("kong_bandwidth_bytes", #"direction="egress""#) == 1_000_000)
    }

    @Test func histogramsUseKongsBucketsCumulativelyWithExactSums() async throws {
        let f = try Fixture(shopYAML)
        // gateway 1.5 ms (→ le=2), upstream 30 ms (→ le=50), total 31.6 ms (→ le=50).
        f.feed(Array(repeating: event(gatewayMicros: 1_500, upstreamMicros: 30_000, tailMicros: 100), count: 3))
        // gateway exactly 1 ms (→ le=1: a bound is inclusive), upstream 70 s (→ +Inf).
        f.feed([event(gatewayMicros: 1_000, upstreamMicros: 70_000_000, tailMicros: 0)])
        let m = await f.scrape()
        let labels = #"service="orders",route="orders-list",workspace="default""#
        func kong(_ le: String) -> Double? { m["kong_kong_latency_ms_bucket{\(labels),le=\"\(le)\"}"] }
        func upstream(_ le: String) -> Double? { m["kong_upstream_latency_ms_bucket{\(labels),le=\"\(le)\"}"] }
        #expect(kong("1") == 1)
        #expect(kong("2") == 4)
        #expect(kong("6000") == 4)
        #expect(kong("+Inf") == 4)
        #expect(m["kong_kong_latency_ms_count{\(labels)}"] == 4)
        #expect(m["kong_kong_latency_ms_sum{\(labels)}"] == 5.5)
        #expect(upstream("25") == 0)
        #expect(upstream("50") == 3)
        #expect(upstream("60000") == 3)
        #expect(upstream("+Inf") == 4)
        #expect(m["kong_upstream_latency_ms_sum{\(labels)}"] == 70_090)
        #expect(m["kong_request_latency_ms_sum{\(labels)}"] == 70_095.8)
        // Kong's bucket bounds, in order, unpadded.
        let les = m.samples.filter { $0.series.hasPrefix("kong_kong_latency_ms_bucket{\(labels)") }
            .map { String($0.series.split(separator: "le=\"").last!.dropLast(2)) }
        #expect(les == ["1", "2", "5", "7", "10", "15", "20", "30", "50", "75", "100", "200", "500", "750", "1000", "3000", "6000", "+Inf"])
        let upstreamLes = m.samples.filter { $0.series.hasPrefix("kong_upstream_latency_ms_bucket{\(labels)") }.count
        #expect(upstreamLes == 14)
    }

    @Test func familiesAndSeriesAreSortedAndUnique() async throws {
        let f = try Fixture(shopYAML)
        f.feed([event(route: 2, service: 1), event(route: -1, service: -1, status: 404, upstream: false),
                event(route: 1, service: 0, status: 201), event(route: 0, service: 0, status: 500)])
        let m = await f.scrape()
        let types = m.text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(types == types.sorted())
        #expect(Set(types).count == types.count)
        #expect(Set(m.samples.map(\.series)).count == m.samples.count)
        let requests = m.samples.filter { $0.series.hasPrefix("kong_http_requests_total{") }.map(\.series)
        #expect(requests.count == 4 && requests == requests.sorted())
        // Like Kong: all _bucket lines, then all _count, then all _sum.
        let latency = m.samples.filter { $0.series.hasPrefix("kong_kong_latency_ms_") }.map(\.series)
        let kinds = latency.map { $0.hasPrefix("kong_kong_latency_ms_bucket") ? 0 : $0.hasPrefix("kong_kong_latency_ms_count") ? 1 : 2 }
        #expect(kinds == kinds.sorted())
    }

    @Test func nodeFamiliesAlwaysRequestFamiliesOnlyWithThePlugin() async throws {
        let f = try Fixture("""
            _format_version: "3.0"
            services: [{name: s, url: "http://127.0.0.1:9001", routes: [{name: r, paths: ["/"]}]}]
            """)
        f.feed([event()])
        let m = await f.scrape()
        for family in ["kong_node_info", "kong_datastore_reachable", "kong_nginx_connections_total", "kong_nginx_requests_total",
                       "kong_memory_lua_shared_dict_bytes", "kong_memory_lua_shared_dict_total_bytes", "argus_events_published_total",
                       "argus_events_dropped_total", "argus_exporter_lag_events", "argus_metrics_label_overflow_total"] {
            #expect(m.has(family: family), "\(family)")
        }
        for family in ["kong_http_requests_total", "kong_kong_latency_ms", "kong_bandwidth_bytes", "kong_nginx_metric_errors_total",
                       "kong_upstream_target_health"] {
            #expect(!m.has(family: family), "\(family)")
        }
        #expect(m[#"kong_node_info{node_id="node-1",version="test"}"#] == 1)
        #expect(m["kong_datastore_reachable"] == 1)
    }

    @Test func eachFlagControlsItsFamilies() async throws {
        let f = try Fixture("""
            _format_version: "3.0"
            services: [{name: s, url: "http://127.0.0.1:9001", routes: [{name: r, paths: ["/"]}]}]
            plugins: [{name: prometheus, config: {bandwidth_metrics: true}}]
            """)
        f.feed([event()])
        let m = await f.scrape()
        #expect(m.has(family: "kong_bandwidth_bytes"))
        #expect(!m.has(family: "kong_http_requests_total"))
        #expect(!m.has(family: "kong_kong_latency_ms"))
        #expect(m.has(family: "kong_nginx_metric_errors_total"))
        #expect(m["kong_nginx_metric_errors_total"] == 0)
    }

    @Test func upstreamTargetHealthHasFourStatesPerTarget() async throws {
        let targets = [TargetHealth(upstream: "u", target: "a.internal:80", address: "10.0.0.1:80", state: .healthy),
                       TargetHealth(upstream: "u", target: "b.internal:80", address: "", state: .dnsError)]
        let f = try Fixture(shopYAML, targets: targets)
        let m = await f.scrape()
        #expect(m.samples.filter { $0.series.hasPrefix("kong_upstream_target_health{") }.count == 8)
        #expect(m[#"kong_upstream_target_health{upstream="u",target="a.internal:80",address="10.0.0.1:80",state="healthy",subsystem="http"}"#] == 1)
        #expect(m[#"kong_upstream_target_health{upstream="u",target="a.internal:80",address="10.0.0.1:80",state="unhealthy",subsystem="http"}"#] == 0)
        #expect(m[#"kong_upstream_target_health{upstream="u",target="b.internal:80",address="",state="dns_error",subsystem="http"}"#] == 1)
    }
}
