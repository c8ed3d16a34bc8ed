/// A sampled request's trace id attached to the histogram bucket its latency fell in (OpenMetrics
/// exemplars: Grafana links a latency panel's point to the trace). One per bucket, the latest.
struct Exemplar: Sendable, Equatable {
    var traceHigh: UInt64
    var traceLow: UInt64
    /// The observed latency.
    var nanos: UInt64
    /// When the request completed, wall clock, milliseconds since the epoch.
    var wallMillis: UInt64
}
