/// Reads a trace context from a request's headers as Kong 3.9's extractors do
/// (`kong/observability/tracing/propagation/extractors`): the first format in the configured order
/// that finds anything wins, even a sampling decision without ids (`b3: 0`). A malformed header
/// is ignored, as Kong does after logging a warning.
public enum TraceExtractor {
    /// What an extractor found. Every part may be missing: a format may carry only a sampling
    /// decision, or an id Kong ignores while keeping the rest.
    public struct Found: Sendable, Equatable {
        /// The trace id (a 64-bit one has `high == 0`).
        public var trace: (high: UInt64, low: UInt64)?
        /// The client's span id (the parent of the gateway's span).
        public var spanID: UInt64?
        /// The client's parent span id (b3, jaeger), used when no span id came.
        public var parentID: UInt64?
        /// The client's sampling decision, nil when it made none.
        public var sampled: Bool?
        /// b3's debug flag (`x-b3-flags: 1`, `b3: …-d`): injected again as such.
        public var debug = false
        /// How many bytes the trace id had in the client's format (Kong's
        /// `trace_id_original_size`): a format that allows that width injects it so.
        public var originalSize: Int?
        /// b3 came as its single header (`preserve` injects b3-single then).
        public var singleHeader = false
        public var format: PropagationFormat

        public init(format: PropagationFormat) { self.format = format }

        public static func == (a: Found, b: Found) -> Bool {
            a.trace?.high == b.trace?.high && a.trace?.low == b.trace?.low && a.spanID == b.spanID && a.parentID == b.parentID
                && a.sampled == b.sampled && a.debug == b.debug && a.originalSize == b.originalSize && a.singleHeader == b.singleHeader
                && a.format == b.format
        }

        var isEmpty: Bool { trace == nil && spanID == nil && parentID == nil && sampled == nil && !debug }
    }

    /// The first context found in `formats` order. `header` returns a header's first value by
    /// lower-case name.
    public static func extract(_ formats: [PropagationFormat], header: (String) -> String?) -> Found? {
        for format in formats {
            if let found = extract(format, header: header), !found.isEmpty { return found }
        }
        return nil
    }

    public static func extract(_ format: PropagationFormat, header: (String) -> String?) -> Found? {
        switch format {
        case .w3c: return header("traceparent").flatMap(w3c)
        case .b3, .b3Single: return b3(header)
        case .jaeger: return header("uber-trace-id").flatMap(jaeger)
        case .ot: return ot(header)
        case .aws: return header("x-amzn-trace-id").flatMap(aws)
        case .gcp: return header("x-cloud-trace-context").flatMap(gcp)
        case .datadog: return datadog(header)
        }
    }

    static func bytes(_ text: some StringProtocol) -> [UInt8] { Array(text.utf8) }

    static func isHex(_ text: [UInt8]) -> Bool { !text.isEmpty && text.allSatisfy { Hex.nibble($0) != nil } }

    /// `traceparent: 00-{32 hex trace id}-{16 hex parent id}-{2 hex flags}`; any other version is ignored.
    static func w3c(_ value: String) -> Found? {
        // the common shape, read in place (no allocation)
        var value = value
        let fast: Found?? = value.withUTF8 { t in
            guard t.count == 55, t[0] == UInt8(ascii: "0"), t[1] == UInt8(ascii: "0"), t[2] == UInt8(ascii: "-"),
                  t[35] == UInt8(ascii: "-"), t[52] == UInt8(ascii: "-") else { return .none }
            guard let high = Hex.parse64(t[3..<19]), let low = Hex.parse64(t[19..<35]), high | low != 0,
                  let span = Hex.parse64(t[36..<52]), span != 0, let flags = Hex.parse64(t[53..<55])
            else { return .some(nil) }
            var found = Found(format: .w3c)
            found.trace = (high, low)
            found.originalSize = 16
            found.spanID = span
            found.sampled = flags & 1 == 1
            return .some(found)
        }
        if let fast { return fast }
        let parts = bytes(value).split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false).map(Array.init)
        guard parts.count == 4, parts.allSatisfy(isHex), parts[0] == bytes("00"),
              parts[1].count == 32, let trace = Hex.parse128(parts[1]), trace.high | trace.low != 0,
              parts[2].count == 16, let span = Hex.parse64(parts[2]), span != 0,
              parts[3].count == 2, let flags = Hex.parse64(parts[3])
        else { return nil }
        var found = Found(format: .w3c)
        found.trace = trace
        found.originalSize = 16
        found.spanID = span
        found.sampled = flags & 1 == 1
        return found
    }

    /// Zipkin's B3: the single `b3` header (or `tracestate: b3=…`) first, then the multi headers
    /// (`x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid`, `x-b3-sampled`, `x-b3-flags`) fill
    /// in what it left out. An invalid id drops the ids of its header form, not the sampling decision.
    static func b3(_ header: (String) -> String?) -> Found? {
        var found = Found(format: .b3)
        var single = header("b3")
        if single == nil, let state = header("tracestate"), state.hasPrefix("b3=") { single = String(state.dropFirst(3)) }
        if let single {
            found.singleHeader = true
            switch single {
            case "1": found.sampled = true
            case "d": found.sampled = true; found.debug = true
            case "0": found.sampled = false
            default:
                let parts = bytes(single).split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false).map(Array.init)
                let sampledPart = parts.count >= 3 ? parts[2] : []
                let parentPart = parts.count >= 4 ? parts[3] : []
                let valid = parts.count >= 2 && parts.count <= 4 && isHex(parts[0]) && (parts[0].count == 16 || parts[0].count == 32)
                    && parts[1].count == 16 && isHex(parts[1]) && sampledPart.count <= 1
                    && (sampledPart.isEmpty || [UInt8(ascii: "0"), UInt8(ascii: "1"), UInt8(ascii: "d")].contains(sampledPart[0]))
                    && (parentPart.isEmpty || (parentPart.count == 16 && isHex(parentPart)))
                if valid {
                    found.trace = Hex.parse128(parts[0])
                    found.originalSize = (parts[0].count + 1) / 2
                    found.spanID = Hex.parse64(parts[1])
                    found.parentID = parentPart.isEmpty ? nil : Hex.parse64(parentPart)
                    if sampledPart == [UInt8(ascii: "1")] { found.sampled = true }
                    if sampledPart == [UInt8(ascii: "d")] { found.sampled = true; found.debug = true }
                    if sampledPart == [UInt8(ascii: "0")] { found.sampled = false }
                }
            }
        }
        var sampled: Bool?
        switch header("x-b3-sampled") {
        case "1", "true": sampled = true
        case "0", "false": sampled = false
        default: sampled = nil
        }
        if header("x-b3-flags") == "1" { sampled = true; found.debug = true }
        if found.sampled == nil { found.sampled = sampled }
        let traceText = header("x-b3-traceid").map(bytes)
        let spanText = header("x-b3-spanid").map(bytes)
        let parentText = header("x-b3-parentspanid").map(bytes)
        let invalid = traceText.map { !($0.count == 16 || $0.count == 32) || !isHex($0) } ?? false
            || spanText.map { $0.count != 16 || !isHex($0) } ?? false
            || parentText.map { $0.count != 16 || !isHex($0) } ?? false
        if !invalid {
            if found.trace == nil, let traceText {
                found.trace = Hex.parse128(traceText)
                found.originalSize = (traceText.count + 1) / 2
            }
            if found.spanID == nil, let spanText { found.spanID = Hex.parse64(spanText) }
            if found.parentID == nil, let parentText { found.parentID = Hex.parse64(parentText) }
        }
        if found.trace == nil {
            found.spanID = nil
            found.parentID = nil
        }
        return found
    }

    /// Jaeger's `uber-trace-id: {trace}:{span}:{parent}:{flags}` (hex; leading zeros may be left out).
    static func jaeger(_ value: String) -> Found? {
        let parts = bytes(value).split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false).map(Array.init)
        guard parts.count == 4, parts.allSatisfy(isHex),
              parts[0].count <= 32, let trace = Hex.parse128(parts[0]), trace.high | trace.low != 0,
              parts[1].count <= 16, let span = Hex.parse64(parts[1]), span != 0,
              parts[3].count == 1 || parts[3].count == 2, let flags = Hex.parse64(parts[3])
        else { return nil }
        var found = Found(format: .jaeger)
        found.trace = trace
        found.originalSize = (parts[0].count + 1) / 2
        found.spanID = span
        // a parent id of the wrong length is only warned about by Kong; its last 8 bytes are kept
        let parent = parts[2].suffix(16)
        found.parentID = Hex.parse64(Array(parent)).flatMap { $0 == 0 ? nil : $0 }
        found.sampled = flags & 1 == 1
        return found
    }

    /// OpenTracing's `ot-tracer-traceid` (16 or 32 hex), `ot-tracer-spanid` (16), `ot-tracer-sampled`.
    static func ot(_ header: (String) -> String?) -> Found? {
        var found = Found(format: .ot)
        switch header("ot-tracer-sampled") {
        case "1", "true": found.sampled = true
        case "0", "false": found.sampled = false
        default: break
        }
        let traceText = header("ot-tracer-traceid").map(bytes)
        let spanText = header("ot-tracer-spanid").map(bytes)
        let invalid = traceText.map { !($0.count == 16 || $0.count == 32) || !isHex($0) } ?? false
            || spanText.map { $0.count != 16 || !isHex($0) } ?? false
        if let traceText, !invalid {
            found.trace = Hex.parse128(traceText)
            found.originalSize = (traceText.count + 1) / 2
            found.spanID = spanText.flatMap { Hex.parse64($0) }
        }
        return found
    }

    /// AWS X-Ray's `x-amzn-trace-id: Root=1-{8 hex}-{24 hex};Parent={16 hex};Sampled={0|1}`; any
    /// invalid part voids the header.
    static func aws(_ value: String) -> Found? {
        var found = Found(format: .aws)
        for pair in value.split(separator: ";", omittingEmptySubsequences: false) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = kv[0].trimmingWhitespace, text = kv.count > 1 ? bytes(kv[1].trimmingWhitespace) : []
            switch key {
            case "Root":
                let parts = text.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false).map(Array.init)
                guard text.count == 35, parts.count == 3, parts.allSatisfy(isHex), parts[0] == bytes("1"), parts[1].count == 8,
                      parts[2].count == 24
                else { return nil }
                found.trace = Hex.parse128(parts[1] + parts[2])
                found.originalSize = 16
            case "Parent":
                guard text.count == 16, isHex(text) else { return nil }
                found.spanID = Hex.parse64(text)
            case "Sampled":
                guard text == bytes("0") || text == bytes("1") else { return nil }
                found.sampled = text == bytes("1")
            default: continue
            }
        }
        return found
    }

    /// Google Cloud's `x-cloud-trace-context: {32 lower-case hex}/{decimal span id}[;o={digit}]`.
    static func gcp(_ value: String) -> Found? {
        let text = bytes(value)
        guard text.count > 33, text[32] == UInt8(ascii: "/"),
              text[..<32].allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }),
              let trace = Hex.parse128(text[..<32])
        else { return nil }
        let rest = text[33...]
        let semicolon = rest.firstIndex(of: UInt8(ascii: ";")) ?? rest.endIndex
        let digits = rest[..<semicolon]
        guard (1...20).contains(digits.count), digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let options = rest[semicolon...]
        guard options.isEmpty || (options.count == 4 && options.starts(with: bytes(";o=")) && (48...57).contains(options.last!)) else { return nil }
        var found = Found(format: .gcp)
        found.trace = trace
        found.originalSize = 16
        // Kong keeps the low 8 bytes of a larger number
        found.spanID = digits.reduce(UInt64(0)) { $0 &* 10 &+ UInt64($1 - 48) }
        found.sampled = options.last == UInt8(ascii: "1")
        return found
    }

    /// Datadog's decimal `x-datadog-trace-id` and `x-datadog-parent-id`, and
    /// `x-datadog-sampling-priority` (1, 2: sampled; 0, -1: not; anything else voids the headers).
    static func datadog(_ header: (String) -> String?) -> Found? {
        var found = Found(format: .datadog)
        switch header("x-datadog-sampling-priority") {
        case "1", "2": found.sampled = true
        case "0", "-1": found.sampled = false
        case nil: break
        default: return nil
        }
        if let trace = header("x-datadog-trace-id").flatMap({ Hex.parseDecimal128(bytes($0.trimmingWhitespace)) }) {
            found.trace = trace
            // the number's own width in bytes (Kong's `from_dec(...):to_binary()`)
            let bits = trace.high != 0 ? 128 - trace.high.leadingZeroBitCount : 64 - trace.low.leadingZeroBitCount
            found.originalSize = max(1, (bits + 7) / 8)
            found.spanID = header("x-datadog-parent-id").flatMap { Hex.parseDecimal(bytes($0.trimmingWhitespace)) }
        }
        return found
    }
}

extension StringProtocol {
    fileprivate var trimmingWhitespace: Substring {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return Substring(s)
    }
}
