import ArgusConfig
import ArgusEvents

public typealias TraceIDs = RequestDetail.TraceIDs

/// One `opentelemetry` plugin instance compiled for the request path: how trace context is
/// extracted, cleared and injected (Kong's `propagation`, or the deprecated `header_type` mapped as
/// Kong's `get_plugin_params` does), the sampling rate, the response header for the trace id.
public struct TracePlan: Sendable {
    /// An item of `propagation.inject`.
    public enum Injection: Sendable, Equatable {
        /// The format the context came in (or `default_format` when none did).
        case preserve
        case format(PropagationFormat)
    }

    /// The instance's index in the config's `plugins`.
    public let plugin: Int16
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

    public init(config: JSONValue, plugin: Int16) {
        self.plugin = plugin
        func formats(_ value: JSONValue?) -> [PropagationFormat]? {
            guard let items = value?.arrayValue else { return nil }
            return items.compactMap { $0.stringValue.flatMap(PropagationFormat.init(rawValue:)) }
        }
        let propagation = config["propagation"] ?? .object([:])
        let defaultFormat = propagation["default_format"]?.stringValue.flatMap(PropagationFormat.init(rawValue:)) ?? .w3c
        self.defaultFormat = defaultFormat
        let configured = ["extract", "inject", "clear"].contains { key in
            if let value = propagation[key], value != .null { return true }
            return false
        }
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
        samplingRate = config["sampling_rate"]?.doubleValue
        responseHeader = config["http_response_header_for_traceid"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        exportsTraces = !(config["traces_endpoint"]?.stringValue ?? "").isEmpty
        exportsLogs = !(config["logs_endpoint"]?.stringValue ?? "").isEmpty
    }

    /// What the request path decided for one request.
    public struct Decision: Sendable {
        public var ids: TraceIDs
        /// The headers to set upstream (a client's header of the same name is removed), and the
        /// names `propagation.clear` removes.
        public var upstreamHeaders: [(name: String, value: String)]
        public var remove: [String]
        /// The trace id for `http_response_header_for_traceid` (32 hex digits), when configured.
        public var responseHeader: (name: String, value: String)?
    }

    /// Extracts the client's context (if any), chooses the gateway's ids, decides sampling as
    /// Kong does (a client's "not sampled" is kept; otherwise the rate decides on the trace id),
    /// and renders what goes upstream.
    public func begin(
        header: (String) -> String?, generator: inout TraceIDGenerator, defaultRate: Double
    ) -> Decision {
        let found = TraceExtractor.extract(extract, header: header)
        var trace = generator.traceID()
        let span = generator.spanID()
        let upstreamSpan = generator.spanID()
        if let extracted = found?.trace { trace = extracted }
        let parent = found?.spanID ?? found?.parentID ?? 0
        let sampled: Bool
        if found?.sampled == false {
            sampled = false
        } else {
            sampled = TraceSampler(rate: samplingRate ?? defaultRate).sample(traceHigh: trace.high, traceLow: trace.low)
        }
        var ids = TraceIDs(
            traceHigh: trace.high, traceLow: trace.low, parentSpanID: parent, spanID: span, upstreamSpanID: upstreamSpan,
            sampled: sampled, plugin: plugin)
        let context = TraceInjector.Context(
            traceHigh: trace.high, traceLow: trace.low, originalSize: found?.originalSize, spanID: upstreamSpan, parentID: span,
            sampled: sampled, debug: found?.debug ?? false)
        var headers: [(name: String, value: String)] = []
        var injected: UInt8 = 0
        for item in inject {
            var format: PropagationFormat
            switch item {
            case .format(let f): format = f
            case .preserve: format = found?.format ?? defaultFormat
            }
            if format == .b3, item == .preserve, found?.singleHeader == true { format = .b3Single }
            injected |= format.bit
            for h in TraceInjector.headers(context, format) {
                // a later format setting the same header replaces the earlier value (Kong's set_header)
                headers.removeAll { $0.name == h.name }
                headers.append(h)
            }
        }
        ids.injected = injected
        ids.originalSize = UInt8(clamping: found?.originalSize ?? 0)
        let response = responseHeader.map { ($0, Hex.encode(trace.high) + Hex.encode(trace.low)) }
        return Decision(ids: ids, upstreamHeaders: headers, remove: clear, responseHeader: response)
    }
}
