import ArgusEvents

/// Writes a trace context into the request sent upstream as Kong 3.9's injectors do
/// (`kong/observability/tracing/propagation/injectors`): each header the format sets replaces a
/// client's header of that name. The upstream sees the gateway's upstream-call span as its
/// parent.
public enum TraceInjector {
    /// What goes upstream: the trace, the span the upstream call is (``spanID``), its parent (the
    /// gateway's request span), the sampling decision.
    public struct Context: Sendable, Equatable {
        public var traceHigh: UInt64
        public var traceLow: UInt64
        /// The trace id's width in the client's format, in bytes (nil: the trace started here).
        public var originalSize: Int?
        public var spanID: UInt64
        public var parentID: UInt64
        public var sampled: Bool
        /// b3's debug flag came in: b3 sends `x-b3-flags: 1` (or `-d`) instead of the decision.
        public var debug: Bool

        public init(
            traceHigh: UInt64, traceLow: UInt64, originalSize: Int? = nil, spanID: UInt64, parentID: UInt64, sampled: Bool,
            debug: Bool = false
        ) {
            self.traceHigh = traceHigh
            self.traceLow = traceLow
            self.originalSize = originalSize
            self.spanID = spanID
            self.parentID = parentID
            self.sampled = sampled
            self.debug = debug
        }
    }

    /// The trace id as Kong's log record shows it per injected format (`trace_id` in the
    /// serialized record, Kong's `get_formatted_trace_id`): the key and the id at the width the
    /// format injected (datadog: decimal).
    public static func formattedTraceID(_ ids: RequestDetail.TraceIDs, _ format: PropagationFormat) -> (key: String, value: String) {
        let size = ids.originalSize == 0 ? nil : Int(ids.originalSize)
        let full = Hex.encode(ids.traceHigh) + Hex.encode(ids.traceLow)
        let sized = size == 8 || (format == .ot && size != 16) ? Hex.encode(ids.traceLow) : full
        switch format {
        case .w3c: return ("w3c", full)
        case .b3, .b3Single: return ("b3", sized)
        case .jaeger: return ("jaeger", sized)
        case .ot: return ("ot", sized)
        case .aws: return ("aws", full)
        case .gcp: return ("gcp", full)
        case .datadog: return ("datadog", "\(ids.traceLow)")
        }
    }

    /// The headers `format` sets for `c`, as (lower-case name, value).
    public static func headers(_ c: Context, _ format: PropagationFormat) -> [(name: String, value: String)] {
        let full = Hex.encode(c.traceHigh) + Hex.encode(c.traceLow)
        // Kong's `trace_id_allowed_sizes`: the client's width when the format allows it, else the
        // format's first (b3 and jaeger: 16 then 8 bytes; ot: 8 then 16)
        let sized = c.originalSize == 8 || (format == .ot && c.originalSize != 16) ? Hex.encode(c.traceLow) : full
        let span = Hex.encode(c.spanID)
        let parent = c.parentID != 0 ? Hex.encode(c.parentID) : nil
        let flag = c.sampled ? "1" : "0"
        switch format {
        case .w3c:
            return [("traceparent", "00-\(full)-\(span)-\(c.sampled ? "01" : "00")")]
        case .b3:
            var out = [("x-b3-traceid", sized), ("x-b3-spanid", span)]
            if let parent { out.append(("x-b3-parentspanid", parent)) }
            out.append(c.debug ? ("x-b3-flags", "1") : ("x-b3-sampled", flag))
            return out
        case .b3Single:
            var value = "\(sized)-\(span)-\(c.debug ? "d" : flag)"
            if let parent { value += "-" + parent }
            return [("b3", value)]
        case .jaeger:
            return [("uber-trace-id", "\(sized):\(span):\(parent ?? "0"):\(c.sampled ? "01" : "00")")]
        case .ot:
            return [("ot-tracer-traceid", sized), ("ot-tracer-spanid", span), ("ot-tracer-sampled", flag)]
        case .aws:
            return [("x-amzn-trace-id", "Root=1-\(full.prefix(8))-\(full.dropFirst(8));Parent=\(span);Sampled=\(flag)")]
        case .gcp:
            return [("x-cloud-trace-context", "\(full)/\(c.spanID);o=\(flag)")]
        case .datadog:
            return [("x-datadog-trace-id", "\(c.traceLow)"), ("x-datadog-parent-id", "\(c.spanID)"), ("x-datadog-sampling-priority", flag)]
        }
    }

}
