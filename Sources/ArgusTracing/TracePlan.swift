import ArgusConfig
import ArgusEvents

public typealias TraceIDs = RequestDetail.TraceIDs

/// One `opentelemetry` or `zipkin` plugin instance compiled for the request path: how trace
/// context is extracted, cleared and injected (Kong's `propagation`, or the deprecated
/// `header_type` mapped as Kong's `get_plugin_params` does), the sampling rate, the response header
/// for the trace id.
public final class TracePlan: Sendable {
    /// The plugin the instance belongs to.
    public enum Flavor: Sendable {
        case opentelemetry
        /// Kong's `zipkin`: a b3 or jaeger client's span is the gateway's request span (Kong's
        /// `reuse_span_id`), and new trace ids may be 8 bytes (`traceid_byte_count`).
        case zipkin
    }

    /// An item of `propagation.inject`.
    public enum Injection: Sendable, Equatable {
        /// The format the context came in (or `default_format` when none did).
        case preserve
        case format(PropagationFormat)
    }

    /// The instance's index in the config's `plugins`.
    public let plugin: Int16
    public let flavor: Flavor
    /// New trace ids are 8 bytes (zipkin's `traceid_byte_count: 8`).
    let shortTraceIDs: Bool
    public let extract: [PropagationFormat]
    public let inject: [Injection]
    /// Lower-case header names removed from the upstream request after extraction.
    public let clear: [String]
    public let defaultFormat: PropagationFormat
    /// The instance's `sampling_rate`, nil to use the gateway's (`--tracing-sampling-rate`).
    public let samplingRate: Double?
    /// `http_response_header_for_traceid`.
    public let responseHeader: String?
    /// The instance sends spans (`traces_endpoint`) and log records (`logs_endpoint`).
    public let exportsTraces: Bool
    public let exportsLogs: Bool

    /// Kong's legacy extraction order (`header_type` other than `ignore`).
    static let legacyExtract: [PropagationFormat] = [.b3, .w3c, .jaeger, .ot, .datadog, .aws, .gcp]

    public init(config: JSONValue, plugin: Int16, flavor: Flavor = .opentelemetry) {
        self.plugin = plugin
        self.flavor = flavor
        shortTraceIDs = flavor == .zipkin && config["traceid_byte_count"]?.intValue == 8
        func formats(_ value: JSONValue?) -> [PropagationFormat]? {
            guard let items = value?.arrayValue else { return nil }
            return items.compactMap { $0.stringValue.flatMap(PropagationFormat.init(rawValue:)) }
        }
        let propagation = config["propagation"] ?? .object([:])
        var defaultFormat = propagation["default_format"]?.stringValue.flatMap(PropagationFormat.init(rawValue:))
            ?? (flavor == .zipkin ? .b3 : .w3c)
        let configured = ["extract", "inject", "clear"].contains { key in
            if let value = propagation[key], value != .null { return true }
            return false
        }
        // zipkin's deprecated `default_header_type` is the default format unless `propagation` is used
        if !configured, let legacy = config["default_header_type"]?.stringValue.flatMap(PropagationFormat.init(rawValue:)) {
            defaultFormat = legacy
        }
        self.defaultFormat = defaultFormat
        if configured {
            extract = formats(propagation["extract"]) ?? []
            inject = (propagation["inject"]?.arrayValue ?? []).compactMap { item in
                guard let name = item.stringValue else { return nil }
                if name == "preserve" { return .preserve }
                return PropagationFormat(rawValue: name).map(Injection.format)
            }
            clear = (propagation["clear"]?.arrayValue ?? []).compactMap { $0.stringValue?.lowercased() }
        } else {
            switch config["header_type"]?.stringValue ?? "preserve" {
            case "preserve":
                extract = Self.legacyExtract
                inject = [.preserve]
            case "ignore":
                extract = []
                inject = [.format(defaultFormat)]
            case let other:
                extract = Self.legacyExtract
                inject = [.preserve] + (PropagationFormat(rawValue: other).map { [.format($0)] } ?? [])
            }
            clear = []
        }
        responseHeader = config["http_response_header_for_traceid"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        switch flavor {
        case .opentelemetry:
            samplingRate = config["sampling_rate"]?.doubleValue
            exportsTraces = !(config["traces_endpoint"]?.stringValue ?? "").isEmpty
            exportsLogs = !(config["logs_endpoint"]?.stringValue ?? "").isEmpty
        case .zipkin:
            samplingRate = config["sample_ratio"]?.doubleValue ?? 0.001
            exportsTraces = !(config["http_endpoint"]?.stringValue ?? "").isEmpty
            exportsLogs = false
        }
        // what is injected and replaced, for each format the context may come in (and none),
        // worked out once: the request path only looks it up
        var injections: [Injections] = []
        let (inject, clear) = (self.inject, self.clear)
        for index in 0...PropagationFormat.allCases.count {
            let format = index < PropagationFormat.allCases.count ? PropagationFormat.allCases[index] : nil
            for single in [false, true] {
                let formats = Self.resolve(inject, extractedFrom: format, single: single, defaultFormat: defaultFormat)
                injections.append(Injections(
                    formats: formats, bits: formats.reduce(0) { $0 | $1.bit },
                    replace: clear + formats.flatMap(TraceInjector.names).filter { !clear.contains($0) }))
            }
        }
        self.injections = injections
    }

    /// What is injected when the context came in a given format.
    struct Injections: Sendable {
        let formats: [PropagationFormat]
        let bits: UInt8
        let replace: [String]
    }

    /// By extracted format index × 2 + (b3 came single), the last pair for "nothing extracted".
    private let injections: [Injections]

    /// The formats injected when the client's context came in `format` (nil: none came; `single`:
    /// b3 came as its single header), in order, each once.
    static func resolve(
        _ inject: [Injection], extractedFrom format: PropagationFormat?, single: Bool, defaultFormat: PropagationFormat
    ) -> [PropagationFormat] {
        var out: [PropagationFormat] = []
        for item in inject {
            var f: PropagationFormat
            switch item {
            case .format(let given): f = given
            case .preserve: f = format ?? defaultFormat
            }
            if f == .b3, item == .preserve, single { f = .b3Single }
            if !out.contains(f) { out.append(f) }
        }
        return out
    }

    /// What the request path decided for one request.
    public struct Decision: Sendable {
        public var ids: TraceIDs
        /// The header lines to set upstream (`name: value\r\n`, as bytes).
        public var upstreamLines: [UInt8]
        /// The names `propagation.clear` removes.
        public var remove: [String]
        /// What goes from the client's request: `clear`'s names and those of every injected
        /// format (Kong's `set_header` replaces a client's header of the same name).
        public var replace: [String]
        /// The trace id for `http_response_header_for_traceid` (32 hex digits), when configured.
        public var responseHeader: (name: String, value: String)?

        /// The injected headers as (name, value).
        public var upstreamHeaders: [(name: String, value: String)] { TraceInjector.parse(upstreamLines) }
    }

    /// Extracts the client's context (if any), chooses the gateway's ids, decides sampling as
    /// Kong does (a client's "not sampled" is kept; otherwise the rate decides on the trace id),
    /// and renders what goes upstream. Without trace headers in the request it allocates only the
    /// injected lines.
    public func begin(
        header: (String) -> String?, generator: inout TraceIDGenerator, defaultRate: Double
    ) -> Decision {
        let found = TraceExtractor.extract(extract, header: header)
        var trace = generator.traceID()
        var span = generator.spanID()
        let upstreamSpan = generator.spanID()
        if let extracted = found?.trace {
            trace = extracted
        } else if shortTraceIDs {
            trace = (0, trace.low == 0 ? trace.high : trace.low)
        }
        var parent = found?.spanID ?? found?.parentID ?? 0
        if flavor == .zipkin, let found, found.format == .b3 || found.format == .jaeger {
            // Kong's `reuse_span_id`: the client's span is shared, its parent is the request's parent
            if let shared = found.spanID { span = shared }
            parent = found.parentID ?? 0
        }
        let sampled: Bool
        if let decided = found?.sampled, flavor == .zipkin || !decided {
            // zipkin keeps the client's decision either way
            sampled = decided
        } else if flavor == .zipkin {
            // Kong's zipkin draws a number per request (`math.random() < sample_ratio`)
            sampled = TraceSampler(rate: samplingRate ?? defaultRate).sample(traceHigh: generator.spanID(), traceLow: 0)
        } else {
            sampled = TraceSampler(rate: samplingRate ?? defaultRate).sample(traceHigh: trace.high, traceLow: trace.low)
        }
        var ids = TraceIDs(
            traceHigh: trace.high, traceLow: trace.low, parentSpanID: parent, spanID: span, upstreamSpanID: upstreamSpan,
            sampled: sampled, plugin: plugin)
        let context = TraceInjector.Context(
            traceHigh: trace.high, traceLow: trace.low, originalSize: found?.originalSize, spanID: upstreamSpan, parentID: span,
            sampled: sampled, debug: found?.debug ?? false)
        let single = found?.singleHeader == true && found?.format == .b3
        let key = (found.map { PropagationFormat.allCases.firstIndex(of: $0.format)! } ?? PropagationFormat.allCases.count) * 2 + (single ? 1 : 0)
        var lines: [UInt8] = []
        lines.reserveCapacity(injections[key].formats.count * 80)
        for format in injections[key].formats { TraceInjector.write(context, format, into: &lines) }
        ids.injected = injections[key].bits
        ids.originalSize = UInt8(clamping: found?.originalSize ?? 0)
        // Kong writes the trace id's bytes: 16 once extracted, 8 for zipkin's short new ids
        let short = shortTraceIDs && found?.trace == nil
        let response = responseHeader.map { ($0, short ? Hex.encode(trace.low) : Hex.encode(trace.high) + Hex.encode(trace.low)) }
        return Decision(ids: ids, upstreamLines: lines, remove: clear, replace: injections[key].replace, responseHeader: response)
    }
}
