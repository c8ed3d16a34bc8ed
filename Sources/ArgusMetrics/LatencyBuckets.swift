/// Kong 3.9's histogram buckets, in milliseconds (kong-compat §7), and the bucket search.
struct LatencyBuckets: Sendable {
    /// `kong_kong_latency_ms`.
    static let kong = LatencyBuckets([1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000])
    /// `kong_upstream_latency_ms` and `kong_request_latency_ms`.
    static let upstream = LatencyBuckets([25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000])

    /// Upper bounds in ms.
    let bounds: [Int]
    /// The same in nanoseconds, for comparing with event durations.
    private let nanos: [UInt64]
    /// `le="..."` text of each bound, then `+Inf`.
    let le: [[UInt8]]

    init(_ bounds: [Int]) {
        self.bounds = bounds
        nanos = bounds.map { UInt64($0) * 1_000_000 }
        le = bounds.map { Array(String($0).utf8) } + [Array("+Inf".utf8)]
    }

    /// Cells per series: one per bound, one for +Inf, one for the sum in ns.
    var stride: Int { bounds.count + 2 }

    /// The bucket a duration falls in (`bounds.count` for +Inf): the first bound it does not exceed.
    @inline(__always)
    func bucket(_ nanoseconds: UInt64) -> Int {
        var i = 0
        while i < nanos.count && nanoseconds > nanos[i] { i &+= 1 }
        return i
    }
}
