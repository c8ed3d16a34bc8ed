import ArgusHTTP2
import ArgusStatistics

extension ProxyStats {
    /// HTTP/2 to clients on /metrics: connections, streams, resets, and each defence that ended a
    /// connection (GOAWAY with an error) or a stream (RST_STREAM).
    func http2Statistics() -> [ExporterStatistic] {
        let counters = loops.map(\.http2)
        func sum(_ value: (HTTP2Counters) -> Int) -> Double { Double(counters.reduce(0) { $0 + value($1) }) }
        var out = [
            ExporterStatistic(
                family: "argus_http2_connections_total", kind: .counter, help: "Client connections that spoke HTTP/2 (h2 or h2c)",
                labels: [], value: sum(\.connectionsAccepted)),
            ExporterStatistic(
                family: "argus_http2_connections_open", kind: .gauge, help: "Client HTTP/2 connections open now",
                labels: [], value: sum(\.connectionsOpen)),
            ExporterStatistic(
                family: "argus_http2_streams_total", kind: .counter, help: "Client HTTP/2 streams opened (each one request)",
                labels: [], value: sum(\.streamsOpened)),
            ExporterStatistic(
                family: "argus_http2_idle_closes_total", kind: .counter,
                help: "Client HTTP/2 connections closed (GOAWAY NO_ERROR) after the idle timeout without streams",
                labels: [], value: sum(\.idleConnectionsClosed)),
        ]
        for (by, value) in [("client", sum(\.streamsResetByClient)), ("gateway", sum(\.streamsResetByGateway))] {
            out.append(ExporterStatistic(
                family: "argus_http2_stream_resets_total", kind: .counter,
                help: "Client HTTP/2 streams reset (RST_STREAM) before their response completed, by who reset them",
                labels: [.init("by", by)], value: value))
        }
        for defence in HTTP2Defence.allCases {
            out.append(ExporterStatistic(
                family: "argus_http2_connection_errors_total", kind: .counter,
                help: "Client HTTP/2 connections ended with GOAWAY for an error of the client's, by defence",
                labels: [.init("reason", defence.rawValue)], value: sum { $0.connectionErrors(defence) }))
            out.append(ExporterStatistic(
                family: "argus_http2_stream_errors_total", kind: .counter,
                help: "Client HTTP/2 streams refused or reset for an error of the client's, by defence",
                labels: [.init("reason", defence.rawValue)], value: sum { $0.streamErrors(defence) }))
        }
        return out + http2UpstreamStatistics()
    }

    /// HTTP/2 towards gRPC upstreams: connections, streams (one per call), resets, protocol errors.
    private func http2UpstreamStatistics() -> [ExporterStatistic] {
        let counters = loops.map(\.http2Upstream)
        func sum(_ value: (HTTP2UpstreamCounters) -> Int) -> Double { Double(counters.reduce(0) { $0 + value($1) }) }
        var out = [
            ExporterStatistic(
                family: "argus_http2_upstream_connections_total", kind: .counter,
                help: "HTTP/2 connections opened to gRPC upstreams (grpc and grpcs services)", labels: [],
                value: sum(\.connectionsOpened)),
            ExporterStatistic(
                family: "argus_http2_upstream_connections_open", kind: .gauge, help: "HTTP/2 connections to gRPC upstreams open now",
                labels: [], value: sum(\.connectionsOpen)),
            ExporterStatistic(
                family: "argus_http2_upstream_streams_total", kind: .counter,
                help: "Streams opened on HTTP/2 connections to gRPC upstreams (each one request)", labels: [],
                value: sum(\.streamsOpened)),
            ExporterStatistic(
                family: "argus_http2_upstream_protocol_errors_total", kind: .counter,
                help: "HTTP/2 connections to gRPC upstreams ended for a protocol error of the upstream's (GOAWAY sent)",
                labels: [], value: sum(\.connectionProtocolErrors)),
        ]
        for (by, value) in [("upstream", sum(\.streamsResetByUpstream)), ("gateway", sum(\.streamsResetByGateway))] {
            out.append(ExporterStatistic(
                family: "argus_http2_upstream_stream_resets_total", kind: .counter,
                help: "Streams to gRPC upstreams reset (RST_STREAM) before both sides ended, by who reset them",
                labels: [.init("by", by)], value: value))
        }
        return out
    }
}
