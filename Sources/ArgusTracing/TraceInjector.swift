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
        var lines: [UInt8] = []
        write(c, format, into: &lines)
        return parse(lines)
    }

    /// `name: value\r\n` lines as (name, value) pairs.
    public static func parse(_ lines: [UInt8]) -> [(name: String, value: String)] {
        lines.split(separator: UInt8(ascii: "\n")).map { line in
            let colon = line.firstIndex(of: UInt8(ascii: ":"))!
            return (String(decoding: line[..<colon], as: UTF8.self), String(decoding: line[(colon + 2)...].dropLast(), as: UTF8.self))
        }
    }

    /// Appends the header lines (`name: value\r\n`) `format` sets for `c`, written as bytes (the
    /// request path's form: no String per header).
    public static func write(_ c: Context, _ format: PropagationFormat, into out: inout [UInt8]) {
        // Kong's `trace_id_allowed_sizes`: the client's width when the format allows it, else the
        // format's first (b3 and jaeger: 16 then 8 bytes; ot: 8 then 16)
        let short = c.originalSize == 8 || (format == .ot && c.originalSize != 16)
        func text(_ s: StaticString) { s.withUTF8Buffer { out.append(contentsOf: $0) } }
        func hex(_ v: UInt64) { for i in 0..<16 { out.append(Hex.digits[Int((v >> UInt64(60 - 4 * i)) & 0xF)]) } }
        func full() { hex(c.traceHigh); hex(c.traceLow) }
        func sized() { if short { hex(c.traceLow) } else { full() } }
        func decimal(_ v: UInt64) { out.append(contentsOf: String(v).utf8) }
        func flag() { out.append(c.sampled ? UInt8(ascii: "1") : UInt8(ascii: "0")) }
        switch format {
        case .w3c:
            text("traceparent: 00-"); full(); text("-"); hex(c.spanID); text(c.sampled ? "-01\r\n" : "-00\r\n")
        case .b3:
            text("x-b3-traceid: "); sized(); text("\r\nx-b3-spanid: "); hex(c.spanID); text("\r\n")
            if c.parentID != 0 { text("x-b3-parentspanid: "); hex(c.parentID); text("\r\n") }
            if c.debug { text("x-b3-flags: 1\r\n") } else { text("x-b3-sampled: "); flag(); text("\r\n") }
        case .b3Single:
            text("b3: "); sized(); text("-"); hex(c.spanID); text("-")
            if c.debug { text("d") } else { flag() }
            if c.parentID != 0 { text("-"); hex(c.parentID) }
            text("\r\n")
        case .jaeger:
            text("uber-trace-id: "); sized(); text(":"); hex(c.spanID); text(":")
            if c.parentID != 0 { hex(c.parentID) } else { text("0") }
            text(c.sampled ? ":01\r\n" : ":00\r\n")
        case .ot:
            text("ot-tracer-traceid: "); sized(); text("\r\not-tracer-spanid: "); hex(c.spanID)
            text("\r\not-tracer-sampled: "); flag(); text("\r\n")
        case .aws:
            text("x-amzn-trace-id: Root=1-")
            let start = out.count
            full()
            out.insert(UInt8(ascii: "-"), at: start + 8)
            text(";Parent="); hex(c.spanID); text(";Sampled="); flag(); text("\r\n")
        case .gcp:
            text("x-cloud-trace-context: "); full(); text("/"); decimal(c.spanID); text(";o="); flag(); text("\r\n")
        case .datadog:
            text("x-datadog-trace-id: "); decimal(c.traceLow); text("\r\nx-datadog-parent-id: "); decimal(c.spanID)
            text("\r\nx-datadog-sampling-priority: "); flag(); text("\r\n")
        }
    }

    /// The lower-case header names `format` may set (a client's of these names are replaced).
    public static func names(_ format: PropagationFormat) -> [String] {
        switch format {
        case .w3c: return ["traceparent"]
        case .b3: return ["x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-flags", "x-b3-sampled"]
        case .b3Single: return ["b3"]
        case .jaeger: return ["uber-trace-id"]
        case .ot: return ["ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled"]
        case .aws: return ["x-amzn-trace-id"]
        case .gcp: return ["x-cloud-trace-context"]
        case .datadog: return ["x-datadog-trace-id", "x-datadog-parent-id", "x-datadog-sampling-priority"]
        }
    }

}
