import Testing
@testable import ArgusTracing

/// Kong's inject ctx as Argus's: `parent` nil is Kong's ctx without `parent_id`, `orig` nil one without
/// `trace_id_original_size` (a trace started here).
func context(
    _ trace: String, orig: Int? = nil, span: String, parent: String? = nil, sampled: Bool, debug: Bool = false
) -> TraceInjector.Context {
    let t = id128(trace)
    return TraceInjector.Context(
        traceHigh: t.high, traceLow: t.low, originalSize: orig, spanID: id64(span), parentID: parent.map(id64) ?? 0,
        sampled: sampled, debug: debug)
}

/// One injection row of 02-propagation_strategies_spec.lua: ctx → exactly these headers (Kong compares the
/// request's header table, so the order is not part of the expectation).
///
/// Rows Argus cannot express are left out: an inject ctx without a trace or span id ("sampling decision
/// only", "1-char header", the "missing trace id"/"missing span id" injector errors) or without a sampling
/// decision ("no sampled" rows); Argus always has both ids and a decision (as the otel plugin's ctx has).
/// Baggage (`uberctx-*`, `ot-baggage-*`) is not carried.
struct InjectCase: Sendable, CustomTestStringConvertible {
    let name: String
    let format: PropagationFormat
    let context: TraceInjector.Context
    let expected: [String]

    init(_ name: String, _ format: PropagationFormat, _ context: TraceInjector.Context, _ expected: [String]) {
        self.name = name
        self.format = format
        self.context = context
        self.expected = expected
    }

    var testDescription: String { "\(format.rawValue): \(name)" }

    var rendered: [String] { TraceInjector.headers(context, format).map { "\($0.name): \($0.value)" } }
}

@Suite struct TraceInjectorTests {
    static let rows: [InjectCase] = [
        // w3c
        InjectCase("base case", .w3c, context(t16, orig: 16, span: s1, sampled: true), ["traceparent: 00-\(t16)-\(s1)-01"]),
        InjectCase("sampled = false", .w3c, context(t16, orig: 16, span: s1, sampled: false), ["traceparent: 00-\(t16)-\(s1)-00"]),
        InjectCase("default injection size is 16B", .w3c, context(t16, span: s1, sampled: true), ["traceparent: 00-\(t16)-\(s1)-01"]),
        // b3
        InjectCase("base case", .b3, context(t16, orig: 16, span: s1, parent: s2, sampled: true),
                   ["x-b3-traceid: \(t16)", "x-b3-spanid: \(s1)", "x-b3-parentspanid: \(s2)", "x-b3-sampled: 1"]),
        InjectCase("sampled set via flags", .b3, context(t16, orig: 16, span: s1, parent: s2, sampled: true, debug: true),
                   ["x-b3-traceid: \(t16)", "x-b3-spanid: \(s1)", "x-b3-parentspanid: \(s2)", "x-b3-flags: 1"]),
        InjectCase("sampled = false", .b3, context(t16, orig: 16, span: s1, parent: s2, sampled: false),
                   ["x-b3-traceid: \(t16)", "x-b3-spanid: \(s1)", "x-b3-parentspanid: \(s2)", "x-b3-sampled: 0"]),
        InjectCase("8-byte trace ID", .b3, context(t8, orig: 8, span: s1, parent: s2, sampled: true),
                   ["x-b3-traceid: \(t8)", "x-b3-spanid: \(s1)", "x-b3-parentspanid: \(s2)", "x-b3-sampled: 1"]),
        InjectCase("default injection size is 16B", .b3, context(t16, span: s1, parent: s2, sampled: true),
                   ["x-b3-traceid: \(t16)", "x-b3-spanid: \(s1)", "x-b3-parentspanid: \(s2)", "x-b3-sampled: 1"]),
        // b3-single
        InjectCase("all fields", .b3Single, context(t16, orig: 16, span: s1, parent: s2, sampled: true), ["b3: \(t16)-\(s1)-1-\(s2)"]),
        InjectCase("all fields, sampled = false", .b3Single, context(t16, orig: 16, span: s1, parent: s2, sampled: false),
                   ["b3: \(t16)-\(s1)-0-\(s2)"]),
        InjectCase("all fields, debug", .b3Single, context(t16, orig: 16, span: s1, parent: s2, sampled: true, debug: true),
                   ["b3: \(t16)-\(s1)-d-\(s2)"]),
        InjectCase("no parent", .b3Single, context(t16, orig: 16, span: s1, sampled: true), ["b3: \(t16)-\(s1)-1"]),
        InjectCase("8-byte trace ID", .b3Single, context(t8, orig: 8, span: s1, sampled: true), ["b3: \(t8)-\(s1)-1"]),
        InjectCase("default injection size is 16B", .b3Single, context(t16, span: s1, parent: s2, sampled: true, debug: true),
                   ["b3: \(t16)-\(s1)-d-\(s2)"]),
        InjectCase("big 16B trace ID", .b3Single, context(bigT16, span: s1, parent: s2, sampled: true, debug: true),
                   ["b3: \(bigT16)-\(s1)-d-\(s2)"]),
        // jaeger
        InjectCase("base case", .jaeger, context(t16, orig: 16, span: s1, parent: s2, sampled: true), ["uber-trace-id: \(t16):\(s1):\(s2):01"]),
        InjectCase("sampled = false", .jaeger, context(t16, orig: 16, span: s1, parent: s2, sampled: false),
                   ["uber-trace-id: \(t16):\(s1):\(s2):00"]),
        InjectCase("8B trace ID", .jaeger, context(t8, orig: 8, span: s1, parent: s2, sampled: true), ["uber-trace-id: \(t8):\(s1):\(s2):01"]),
        InjectCase("default injection size is 16B", .jaeger, context(t16, span: s1, parent: s2, sampled: true),
                   ["uber-trace-id: \(t16):\(s1):\(s2):01"]),
        // Kong's jaeger injector: `parent_id and to_hex(parent_id) or "0"`
        InjectCase("no parent id (injectors/jaeger.lua)", .jaeger, context(t16, span: s1, sampled: true), ["uber-trace-id: \(t16):\(s1):0:01"]),
        // ot
        InjectCase("base case", .ot, context(t16, orig: 16, span: s1, sampled: true),
                   ["ot-tracer-traceid: \(t16)", "ot-tracer-spanid: \(s1)", "ot-tracer-sampled: 1"]),
        InjectCase("sampled = false", .ot, context(t16, orig: 16, span: s1, sampled: false),
                   ["ot-tracer-traceid: \(t16)", "ot-tracer-spanid: \(s1)", "ot-tracer-sampled: 0"]),
        // Kong's row has no decision (so no ot-tracer-sampled); here one is always made
        InjectCase("large trace and span ids", .ot, context(bigT16, orig: 16, span: bigS, sampled: true),
                   ["ot-tracer-traceid: \(bigT16)", "ot-tracer-spanid: \(bigS)", "ot-tracer-sampled: 1"]),
        InjectCase("8B trace id", .ot, context(t8, orig: 8, span: s1, sampled: false),
                   ["ot-tracer-traceid: \(t8)", "ot-tracer-spanid: \(s1)", "ot-tracer-sampled: 0"]),
        InjectCase("default injection size is 8B", .ot, context(t8, span: s1, sampled: true),
                   ["ot-tracer-traceid: \(t8)", "ot-tracer-spanid: \(s1)", "ot-tracer-sampled: 1"]),
        // 03-propagation_module_spec "… inject = preserve, uses default format" (ot): a 16-byte trace started
        // here goes out as its low 8 bytes
        InjectCase("default size cuts a 16B trace id", .ot, context(t16, span: s1, sampled: true),
                   ["ot-tracer-traceid: \(t8)", "ot-tracer-spanid: \(s1)", "ot-tracer-sampled: 1"]),
        // datadog
        InjectCase("base case", .datadog, context(t8, orig: 8, span: s1, sampled: true),
                   ["x-datadog-trace-id: \(t8dec)", "x-datadog-parent-id: \(s1dec)", "x-datadog-sampling-priority: 1"]),
        InjectCase("sampled = false", .datadog, context(t8, orig: 8, span: s1, sampled: false),
                   ["x-datadog-trace-id: \(t8dec)", "x-datadog-parent-id: \(s1dec)", "x-datadog-sampling-priority: 0"]),
        InjectCase("big dec trace id", .datadog, context(bigT8, orig: 8, span: s1, sampled: true),
                   ["x-datadog-trace-id: \(bigT8dec)", "x-datadog-parent-id: \(s1dec)", "x-datadog-sampling-priority: 1"]),
        InjectCase("big dec span id", .datadog, context(t8, orig: 8, span: bigS, sampled: true),
                   ["x-datadog-trace-id: \(t8dec)", "x-datadog-parent-id: \(bigSdec)", "x-datadog-sampling-priority: 1"]),
        InjectCase("default injection size is 8B", .datadog, context(t16, span: s1, sampled: true),
                   ["x-datadog-trace-id: \(t8dec)", "x-datadog-parent-id: \(s1dec)", "x-datadog-sampling-priority: 1"]),
        // aws
        InjectCase("base case", .aws, context(t16, orig: 16, span: s1, sampled: true),
                   ["x-amzn-trace-id: Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=\(s1);Sampled=1"]),
        InjectCase("large id", .aws, context(bigT16, orig: 16, span: s1, sampled: true),
                   ["x-amzn-trace-id: Root=1-ffffffff-fffffffffffffffffffffff1;Parent=\(s1);Sampled=1"]),
        InjectCase("sampled = false", .aws, context(t16, orig: 16, span: s1, sampled: false),
                   ["x-amzn-trace-id: Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=\(s1);Sampled=0"]),
        InjectCase("default injection size is 16B", .aws, context(t16, span: s1, sampled: true),
                   ["x-amzn-trace-id: Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=\(s1);Sampled=1"]),
        // gcp
        InjectCase("base case", .gcp, context(t16, orig: 16, span: s1, sampled: true), ["x-cloud-trace-context: \(t16)/\(s1dec);o=1"]),
        InjectCase("sampled = false", .gcp, context(t16, orig: 16, span: s1, sampled: false), ["x-cloud-trace-context: \(t16)/\(s1dec);o=0"]),
        InjectCase("default injection size is 16B", .gcp, context(t16, span: s1, sampled: true), ["x-cloud-trace-context: \(t16)/\(s1dec);o=1"]),
    ]

    @Test(arguments: rows) func injects(_ c: InjectCase) {
        #expect(c.rendered.sorted() == c.expected.sorted())
    }

    static let roundTrips: [(PropagationFormat, [String: String])] = [
        (.w3c, ["traceparent": "00-\(t16)-\(s1)-01"]),
        (.b3, ["x-b3-traceid": t8, "x-b3-spanid": s1, "x-b3-parentspanid": s2, "x-b3-sampled": "1"]),
        (.b3, ["x-b3-traceid": t16, "x-b3-spanid": s1, "x-b3-parentspanid": s2, "x-b3-flags": "1"]),
        (.b3Single, ["b3": "\(t8)-\(s1)-1"]),
        (.b3Single, ["b3": "\(t16)-\(s1)-d-\(s2)"]),
        (.jaeger, ["uber-trace-id": "\(t8):\(s1):\(s2):01"]),
        (.ot, ["ot-tracer-traceid": t8, "ot-tracer-spanid": s1, "ot-tracer-sampled": "0"]),
        (.ot, ["ot-tracer-traceid": bigT16, "ot-tracer-spanid": bigS, "ot-tracer-sampled": "1"]),
        (.datadog, ["x-datadog-trace-id": bigT8dec, "x-datadog-parent-id": bigSdec, "x-datadog-sampling-priority": "0"]),
        (.aws, ["x-amzn-trace-id": "Root=1-ffffffff-fffffffffffffffffffffff1;Parent=\(s1);Sampled=0"]),
        (.gcp, ["x-cloud-trace-context": "\(t16)/\(s1dec);o=1"]),
    ]

    /// The spec's E/I rows both ways: what a format's extractor reads, its injector writes back unchanged
    /// (the same width of trace id, the same flags).
    @Test(arguments: roundTrips)
    func roundTrip(_ format: PropagationFormat, _ headers: [String: String]) throws {
        let f = try #require(TraceExtractor.extract([format], header: { headers[$0] }))
        let trace = try #require(f.trace)
        let span = try #require(f.spanID)
        let sampled = try #require(f.sampled as Bool?)
        let c = TraceInjector.Context(
            traceHigh: trace.high, traceLow: trace.low, originalSize: f.originalSize, spanID: span, parentID: f.parentID ?? 0,
            sampled: sampled, debug: f.debug)
        let out = TraceInjector.headers(c, format)
        #expect(out.count == headers.count)
        #expect(Dictionary(out.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first }) == headers)
    }
}
