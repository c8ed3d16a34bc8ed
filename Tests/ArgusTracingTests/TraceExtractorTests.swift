import Testing
@testable import ArgusTracing

// Kong 3.9.3 spec/01-unit/26-observability/02-propagation_strategies_spec.lua, its ids:
let t16 = "0af7651916cd43dd8448eb211c80319c"
let t8 = "8448eb211c80319c"
let t8dec = "9532127138774266268"
let s1 = "b7ad6b7169203331"
let s1dec = "13235353014750950193"
let s2 = "b7ad6b7169203332"
let bigT8 = "fffffffffffffff1", bigT8dec = "18446744073709551601"
let bigT16 = "fffffffffffffffffffffffffffffff1", bigT16dec = "340282366920938463463374607431768211441"
let bigS = "fffffffffffffff3", bigSdec = "18446744073709551603"
let tooLong = "1234567890123456789012345678901234567890"

/// A hex id of up to 32 digits as (high, low), read with the standard library (not `Hex`).
func id128(_ hex: String) -> (high: UInt64, low: UInt64) {
    let padded = String(repeating: "0", count: 32 - hex.count) + hex
    return (UInt64(padded.prefix(16), radix: 16)!, UInt64(padded.suffix(16), radix: 16)!)
}

func id64(_ hex: String) -> UInt64 { UInt64(hex, radix: 16)! }

/// 16 lower-case hex digits, by the standard library.
func hex64(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

/// What Kong's `ctx` for a row is, as Argus's `Found`.
func found(
    _ format: PropagationFormat, trace: String? = nil, orig: Int? = nil, span: String? = nil, parent: String? = nil,
    sampled: Bool? = nil, debug: Bool = false, single: Bool = false
) -> TraceExtractor.Found {
    var f = TraceExtractor.Found(format: format)
    f.trace = trace.map(id128)
    f.originalSize = orig
    f.spanID = span.map(id64)
    f.parentID = parent.map(id64)
    f.sampled = sampled
    f.debug = debug
    f.singleHeader = single
    return f
}

/// One row of the strategies spec: headers → the context extracted, nil when nothing is (Kong's
/// "warn" rows: Argus logs nothing, so the observable outcome is that no trace id comes out).
struct ExtractCase: Sendable, CustomTestStringConvertible {
    let name: String
    let format: PropagationFormat
    let headers: [String: String]
    let expected: TraceExtractor.Found?

    init(_ name: String, _ format: PropagationFormat, _ headers: [String: String], _ expected: TraceExtractor.Found?) {
        self.name = name
        self.format = format
        self.headers = headers
        self.expected = expected
    }

    var testDescription: String { "\(format.rawValue): \(name)" }

    func run() -> TraceExtractor.Found? { TraceExtractor.extract([format], header: { headers[$0] }) }
}

private func traceparent(_ value: String) -> [String: String] { ["traceparent": value] }
private func b3Header(_ value: String) -> [String: String] { ["b3": value] }
private func uberHeader(_ value: String) -> [String: String] { ["uber-trace-id": value] }
private func amznHeader(_ value: String) -> [String: String] { ["x-amzn-trace-id": value] }
private func cloudHeader(_ value: String) -> [String: String] { ["x-cloud-trace-context": value] }
private func datadogHeaders(_ trace: String?, _ parent: String?, _ priority: String?) -> [String: String] {
    var h: [String: String] = [:]
    h["x-datadog-trace-id"] = trace
    h["x-datadog-parent-id"] = parent
    h["x-datadog-sampling-priority"] = priority
    return h
}
private let b3Multi = ["x-b3-traceid": t16, "x-b3-spanid": s1, "x-b3-parentspanid": s2]
private let awsRoot = "Root=1-0af76519-16cd43dd8448eb211c80319c"

@Suite struct TraceExtractorTests {
    static let w3cRows: [ExtractCase] = [
        ExtractCase("base case", .w3c, traceparent("00-\(t16)-\(s1)-01"), found(.w3c, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("extraction with sampling mask (on)", .w3c, traceparent("00-\(t16)-\(s1)-09"), found(.w3c, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("extraction with sampling mask (off)", .w3c, traceparent("00-\(t16)-\(s1)-08"), found(.w3c, trace: t16, orig: 16, span: s1, sampled: false)),
        ExtractCase("extraction with hex flags", .w3c, traceparent("00-\(t16)-\(s1)-ef"), found(.w3c, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("sampled = false", .w3c, traceparent("00-\(t16)-\(s1)-00"), found(.w3c, trace: t16, orig: 16, span: s1, sampled: false)),
        ExtractCase("invalid header 1", .w3c, traceparent("vv-\(t16)-\(s1)-00"), nil),
        ExtractCase("invalid header 2", .w3c, traceparent("00-\(String(repeating: "v", count: 32))-\(s1)-00"), nil),
        ExtractCase("invalid header 3", .w3c, traceparent("00-\(t16)-vvvvvvvvvvvvvvvv-00"), nil),
        ExtractCase("invalid header 4", .w3c, traceparent("00-\(t16)-\(s1)-vv"), nil),
        ExtractCase("invalid trace id (too short)", .w3c, traceparent("00-123-\(s1)-00"), nil),
        ExtractCase("invalid trace id (all zero)", .w3c, traceparent("00-\(String(repeating: "0", count: 32))-\(s1)-00"), nil),
        ExtractCase("invalid trace id (too long)", .w3c, traceparent("00-\(tooLong)-\(s1)-00"), nil),
        ExtractCase("invalid parent id (too short)", .w3c, traceparent("00-\(t16)-123-00"), nil),
        ExtractCase("invalid parent id (too long)", .w3c, traceparent("00-\(t16)-\(tooLong)-00"), nil),
        ExtractCase("invalid parent id (all zero)", .w3c, traceparent("00-\(t16)-0000000000000000-00"), nil),
        ExtractCase("invalid version", .w3c, traceparent("01-\(t16)-\(s1)-00"), nil),
        ExtractCase("invalid flags 1", .w3c, traceparent("00-\(t16)-\(s1)-000"), nil),
        ExtractCase("invalid flags 2", .w3c, traceparent("00-\(t16)-\(s1)-0"), nil),
    ]

    static let b3Rows: [ExtractCase] = [
        // extractor b3, injector b3
        ExtractCase("base case", .b3, b3Multi.merging(["x-b3-sampled": "1"]) { $1 },
                    found(.b3, trace: t16, orig: 16, span: s1, parent: s2, sampled: true)),
        ExtractCase("sampling decision only", .b3, ["x-b3-sampled": "0"], found(.b3, sampled: false)),
        ExtractCase("sampled set via flags", .b3, b3Multi.merging(["x-b3-flags": "1"]) { $1 },
                    found(.b3, trace: t16, orig: 16, span: s1, parent: s2, sampled: true, debug: true)),
        ExtractCase("sampled = false", .b3, b3Multi.merging(["x-b3-sampled": "0"]) { $1 },
                    found(.b3, trace: t16, orig: 16, span: s1, parent: s2, sampled: false)),
        ExtractCase("8-byte trace ID", .b3, ["x-b3-traceid": t8, "x-b3-spanid": s1, "x-b3-parentspanid": s2, "x-b3-sampled": "1"],
                    found(.b3, trace: t8, orig: 8, span: s1, parent: s2, sampled: true)),
        // warn "x-b3-traceid header invalid; ignoring.": the ids go, the sampling decision stays (as Kong's ctx)
        ExtractCase("invalid trace id", .b3, ["x-b3-traceid": "x", "x-b3-spanid": s1, "x-b3-parentspanid": s2, "x-b3-sampled": "0"],
                    found(.b3, sampled: false)),
        // extractor b3, injector b3-single
        ExtractCase("1-char header, sampled = true", .b3, b3Header("1"), found(.b3, sampled: true, single: true)),
        ExtractCase("1-char header, sampled = false", .b3, b3Header("0"), found(.b3, sampled: false, single: true)),
        ExtractCase("1-char header, debug", .b3, b3Header("d"), found(.b3, sampled: true, debug: true, single: true)),
        ExtractCase("all fields", .b3, b3Header("\(t16)-\(s1)-1-\(s2)"),
                    found(.b3, trace: t16, orig: 16, span: s1, parent: s2, sampled: true, single: true)),
        ExtractCase("all fields, sampled = false", .b3, b3Header("\(t16)-\(s1)-0-\(s2)"),
                    found(.b3, trace: t16, orig: 16, span: s1, parent: s2, sampled: false, single: true)),
        ExtractCase("all fields, debug", .b3, b3Header("\(t16)-\(s1)-d-\(s2)"),
                    found(.b3, trace: t16, orig: 16, span: s1, parent: s2, sampled: true, debug: true, single: true)),
        ExtractCase("extraction from tracestate", .b3, ["tracestate": "b3=\(t16)-\(s1)-d-\(s2)"],
                    found(.b3, trace: t16, orig: 16, span: s1, parent: s2, sampled: true, debug: true, single: true)),
        ExtractCase("trace id and span id only: no sampled and no parent", .b3, b3Header("\(t16)-\(s1)"),
                    found(.b3, trace: t16, orig: 16, span: s1, single: true)),
        ExtractCase("no parent", .b3, b3Header("\(t16)-\(s1)-1"), found(.b3, trace: t16, orig: 16, span: s1, sampled: true, single: true)),
        ExtractCase("8-byte trace ID (single)", .b3, b3Header("\(t8)-\(s1)-1"), found(.b3, trace: t8, orig: 8, span: s1, sampled: true, single: true)),
        // warn "b3 single header invalid; ignoring.": Kong's ctx keeps only single_header/reuse_span_id,
        // which Argus counts as nothing found
        ExtractCase("invalid trace ID (non hex)", .b3, b3Header("xxx-\(s1)-1-\(s2)"), nil),
        ExtractCase("invalid trace ID (too long)", .b3, b3Header("\(tooLong)-\(s1)-1-\(s2)"), nil),
        ExtractCase("invalid trace ID (too short)", .b3, b3Header("123-\(s1)-1-\(s2)"), nil),
        ExtractCase("empty header", .b3, b3Header(""), nil),
        ExtractCase("no span id", .b3, b3Header("\(t16)-"), nil),
        ExtractCase("non hex span id", .b3, b3Header("\(t16)-xxx"), nil),
        ExtractCase("invalid span id (too long)", .b3, b3Header("\(t16)-\(tooLong)-1-\(s2)"), nil),
        ExtractCase("invalid span id (too short)", .b3, b3Header("\(t16)-123-1-\(s2)"), nil),
        ExtractCase("invalid sampled", .b3, b3Header("\(t16)-\(s1)-x"), nil),
        ExtractCase("invalid parent", .b3, b3Header("\(t16)-\(s1)-d-xxx"), nil),
        ExtractCase("invalid parent (too long)", .b3, b3Header("\(t16)-\(s1)-d-\(tooLong)"), nil),
        ExtractCase("invalid parent (too short)", .b3, b3Header("\(t16)-\(s1)-d-123"), nil),
    ]

    static let jaegerRows: [ExtractCase] = [
        // Argus does not carry baggage (uberctx-*)
        ExtractCase("base case", .jaeger, ["uber-trace-id": "\(t16):\(s1):\(s2):01", "uberctx-foo": "bar"],
                    found(.jaeger, trace: t16, orig: 16, span: s1, parent: s2, sampled: true)),
        ExtractCase("sampled = false", .jaeger, uberHeader("\(t16):\(s1):\(s2):00"), found(.jaeger, trace: t16, orig: 16, span: s1, parent: s2, sampled: false)),
        // Kong: parent_id = 0000000000000000; Argus: no parent (a parent is only used when no span id came)
        ExtractCase("parent = 0", .jaeger, uberHeader("\(t16):\(s1):0:01"), found(.jaeger, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("0-pad shorter span ID", .jaeger, uberHeader("\(t16):123:\(s2):01"),
                    found(.jaeger, trace: t16, orig: 16, span: "0000000000000123", parent: s2, sampled: true)),
        ExtractCase("0-pad shorter trace ID", .jaeger, uberHeader("1234:\(s1):\(s2):01"),
                    found(.jaeger, trace: "00000000000000000000000000001234", orig: 2, span: s1, parent: s2, sampled: true)),
        ExtractCase("8B trace ID", .jaeger, uberHeader("\(t8):\(s1):\(s2):01"), found(.jaeger, trace: t8, orig: 8, span: s1, parent: s2, sampled: true)),
        ExtractCase("invalid header 1", .jaeger, uberHeader("vv:\(s1):\(s2):00"), nil),
        ExtractCase("invalid header 2", .jaeger, uberHeader("\(t8):vv:\(s2):00"), nil),
        ExtractCase("invalid header 3", .jaeger, uberHeader("\(t8):\(s1):vv:00"), nil),
        ExtractCase("invalid header 4", .jaeger, uberHeader("\(t8):\(s1):\(s2):vv"), nil),
        ExtractCase("invalid trace id (too long)", .jaeger, uberHeader("\(tooLong):\(s1):\(s2):00"), nil),
        ExtractCase("invalid trace id (all zero)", .jaeger, uberHeader("\(String(repeating: "0", count: 32)):\(s1):\(s2):00"), nil),
        // "invalid jaeger parent ID; ignoring." is only a warning in Kong: the context is still
        // extracted, the parent padded or cut to its last 8 bytes
        ExtractCase("invalid parent id (too short)", .jaeger, uberHeader("\(t16):\(s1):ff:00"),
                    found(.jaeger, trace: t16, orig: 16, span: s1, parent: "00000000000000ff", sampled: false)),
        ExtractCase("invalid parent id (too long)", .jaeger, uberHeader("\(t16):\(s1):\(tooLong):00"),
                    found(.jaeger, trace: t16, orig: 16, span: s1, parent: "5678901234567890", sampled: false)),
        ExtractCase("invalid span id (too long)", .jaeger, uberHeader("\(t16):\(tooLong):\(s1):00"), nil),
        ExtractCase("invalid span id (all zero)", .jaeger, uberHeader("\(t16):\(String(repeating: "0", count: 32)):\(s1):00"), nil),
        ExtractCase("invalid flags", .jaeger, uberHeader("\(t16):\(s1):\(s2):123"), nil),
    ]

    static let otRows: [ExtractCase] = [
        ExtractCase("base case", .ot, ["ot-tracer-traceid": t16, "ot-tracer-spanid": s1, "ot-tracer-sampled": "1", "ot-baggage-foo": "bar"],
                    found(.ot, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("sampled = false", .ot, ["ot-tracer-traceid": t16, "ot-tracer-spanid": s1, "ot-tracer-sampled": "0"],
                    found(.ot, trace: t16, orig: 16, span: s1, sampled: false)),
        ExtractCase("missing sampled flag", .ot, ["ot-tracer-traceid": t16, "ot-tracer-spanid": s1], found(.ot, trace: t16, orig: 16, span: s1)),
        ExtractCase("large trace and span ids", .ot, ["ot-tracer-traceid": bigT16, "ot-tracer-spanid": bigS, "ot-baggage-foo": "bar"],
                    found(.ot, trace: bigT16, orig: 16, span: bigS)),
        ExtractCase("8B trace id", .ot, ["ot-tracer-traceid": t8, "ot-tracer-spanid": s1, "ot-tracer-sampled": "0"],
                    found(.ot, trace: t8, orig: 8, span: s1, sampled: false)),
        ExtractCase("invalid baggage", .ot, ["ot-tracer-traceid": t16, "ot-tracer-spanid": s1, "ot-tracer-sampled": "1", "otttttbaggage-foo": "bar"],
                    found(.ot, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("invalid header", .ot, ["ot-tracer-traceid": "xx"], nil),
    ]

    static let datadogRows: [ExtractCase] = [
        ExtractCase("base case", .datadog, datadogHeaders(t8dec, s1dec, "1"), found(.datadog, trace: t8, orig: 8, span: s1, sampled: true)),
        ExtractCase("sampled = false", .datadog, datadogHeaders(t8dec, s1dec, "0"), found(.datadog, trace: t8, orig: 8, span: s1, sampled: false)),
        ExtractCase("missing trace id ignores parent id", .datadog, datadogHeaders(nil, s1dec, "1"), found(.datadog, sampled: true)),
        ExtractCase("missing parent id", .datadog, datadogHeaders(t8dec, nil, "1"), found(.datadog, trace: t8, orig: 8, sampled: true)),
        ExtractCase("missing sampled", .datadog, datadogHeaders(t8dec, s1dec, nil), found(.datadog, trace: t8, orig: 8, span: s1)),
        ExtractCase("big dec trace id", .datadog, datadogHeaders(bigT8dec, s1dec, nil), found(.datadog, trace: bigT8, orig: 8, span: s1)),
        ExtractCase("big dec span id", .datadog, datadogHeaders(t8dec, bigSdec, nil), found(.datadog, trace: t8, orig: 8, span: bigS)),
        ExtractCase("(can extract invalid) big dec trace id 16", .datadog, datadogHeaders(bigT16dec, s1dec, nil),
                    found(.datadog, trace: bigT16, orig: 16, span: s1)),
        // the warn rows: an invalid id is dropped (and a parent without a trace id), the rest stays
        ExtractCase("invalid trace id", .datadog, datadogHeaders(t16, s1dec, "1"), found(.datadog, sampled: true)),
        ExtractCase("invalid parent id", .datadog, datadogHeaders(t8dec, s1, "1"), found(.datadog, trace: t8, orig: 8, sampled: true)),
        ExtractCase("empty string trace id", .datadog, datadogHeaders("", s1dec, "1"), found(.datadog, sampled: true)),
        ExtractCase("empty string parent id", .datadog, datadogHeaders(t8dec, "", "1"), found(.datadog, trace: t8, orig: 8, sampled: true)),
    ]

    static let awsRows: [ExtractCase] = [
        ExtractCase("base case", .aws, amznHeader("\(awsRoot);Parent=\(s1);Sampled=1"), found(.aws, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("with spaces", .aws, amznHeader("  Root =   1-0af76519-16cd43dd8448eb211c80319c  ;  Parent= \(s1);  Sampled   =1"),
                    found(.aws, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("parent first", .aws, amznHeader("Parent=\(s1);\(awsRoot);Sampled=1"), found(.aws, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("extra fields", .aws, amznHeader("Foo=bar;\(awsRoot);Parent=\(s1);Sampled=1"), found(.aws, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("large id", .aws, amznHeader("Root=1-ffffffff-fffffffffffffffffffffff1;Parent=\(s1);Sampled=1"),
                    found(.aws, trace: bigT16, orig: 16, span: s1, sampled: true)),
        ExtractCase("sampled = false", .aws, amznHeader("\(awsRoot);Parent=\(s1);Sampled=0"), found(.aws, trace: t16, orig: 16, span: s1, sampled: false)),
        ExtractCase("invalid trace id 1", .aws, amznHeader("Root=0-8448eb21-1c80319c;Parent=\(s1);Sampled=0"), nil),
        ExtractCase("invalid trace id 2", .aws, amznHeader("Root=1-vv-1c80319c;Parent=\(s1);Sampled=0"), nil),
        ExtractCase("invalid trace id 3", .aws, amznHeader("Root=1-8448eb21-vv;Parent=\(s1);Sampled=0"), nil),
        ExtractCase("invalid trace id (too short)", .aws, amznHeader("Root=1-8448eb21-1c80319c;Parent=\(s1);Sampled=0"), nil),
        ExtractCase("invalid trace id (too long)", .aws, amznHeader("Root=1-12345678-90123456789012345678901234567890;Parent=\(s1);Sampled=0"), nil),
        ExtractCase("missing trace id", .aws, amznHeader("Root=;Parent=\(s1);Sampled=0"), nil),
        ExtractCase("invalid parent id 1", .aws, amznHeader("\(awsRoot);Parent=vv;Sampled=0"), nil),
        ExtractCase("invalid parent id (too long)", .aws, amznHeader("\(awsRoot);Parent=\(tooLong);Sampled=0"), nil),
        ExtractCase("invalid parent id (too short)", .aws, amznHeader("\(awsRoot);Parent=123;Sampled=0"), nil),
        ExtractCase("missing parent id", .aws, amznHeader("\(awsRoot);Parent=;Sampled=0"), nil),
        ExtractCase("invalid sampled flag", .aws, amznHeader("\(awsRoot);Parent=\(s1);Sampled=2"), nil),
        ExtractCase("missing sampled flag", .aws, amznHeader("\(awsRoot);Parent=\(s1);Sampled="), nil),
    ]

    static let gcpRows: [ExtractCase] = [
        ExtractCase("base case", .gcp, cloudHeader("\(t16)/\(s1dec);o=1"), found(.gcp, trace: t16, orig: 16, span: s1, sampled: true)),
        ExtractCase("sampled = false", .gcp, cloudHeader("\(t16)/\(s1dec);o=0"), found(.gcp, trace: t16, orig: 16, span: s1, sampled: false)),
        ExtractCase("no flag", .gcp, cloudHeader("\(t16)/\(s1dec)"), found(.gcp, trace: t16, orig: 16, span: s1, sampled: false)),
        ExtractCase("invalid trace id (too short)", .gcp, cloudHeader("123/\(s1dec);o=0"), nil),
        ExtractCase("invalid trace id (too long)", .gcp, cloudHeader("\(tooLong)/\(s1dec);o=0"), nil),
        ExtractCase("invalid trace id (no hex)", .gcp, cloudHeader("vvv/\(s1dec);o=0"), nil),
        ExtractCase("missing span id", .gcp, cloudHeader("\(t16)/;o=0"), nil),
        ExtractCase("invalid span id (non digit)", .gcp, cloudHeader("\(t16)/\(s1);o=0"), nil),
        ExtractCase("invalid span id (too large)", .gcp, cloudHeader("\(t16)/\(s1dec)0;o=0"), nil),
        ExtractCase("invalid sampling value (01)", .gcp, cloudHeader("\(t16)/\(s1dec);o=01"), nil),
        ExtractCase("invalid sampling value (missing)", .gcp, cloudHeader("\(t16)/\(s1dec);o="), nil),
        ExtractCase("invalid sampling value (non digit)", .gcp, cloudHeader("\(t16)/\(s1dec);o=v"), nil),
    ]

    @Test(arguments: w3cRows) func w3cRow(_ c: ExtractCase) { #expect(c.run() == c.expected) }
    @Test(arguments: b3Rows) func b3Row(_ c: ExtractCase) { #expect(c.run() == c.expected) }
    @Test(arguments: jaegerRows) func jaegerRow(_ c: ExtractCase) { #expect(c.run() == c.expected) }
    @Test(arguments: otRows) func otRow(_ c: ExtractCase) { #expect(c.run() == c.expected) }
    @Test(arguments: datadogRows) func datadogRow(_ c: ExtractCase) { #expect(c.run() == c.expected) }
    @Test(arguments: awsRows) func awsRow(_ c: ExtractCase) { #expect(c.run() == c.expected) }
    @Test(arguments: gcpRows) func gcpRow(_ c: ExtractCase) { #expect(c.run() == c.expected) }

    /// "handles no incoming headers correctly": `ex:extract({})` is nil for every extractor.
    @Test(arguments: PropagationFormat.allCases) func noHeaders(_ format: PropagationFormat) {
        #expect(TraceExtractor.extract([format], header: { _ in nil }) == nil)
    }

    /// Kong's extraction order is the configured one; the first non-empty context wins (03-propagation_module_spec
    /// "extract configured with header formats, b3 first / w3c first / missing first header").
    @Test func firstFormatInOrderWins() {
        let h = ["traceparent": "00-\(t16)-\(s1)-01", "uber-trace-id": "\(bigT16):\(bigS):0:01"]
        #expect(TraceExtractor.extract([.datadog, .w3c, .jaeger], header: { h[$0] })?.format == .w3c)
        #expect(TraceExtractor.extract([.b3, .jaeger, .w3c], header: { h[$0] })?.format == .jaeger)
    }

    /// The schema has no `b3-single` extractor; Argus reads `.b3Single` as the b3 extractor (both forms).
    @Test func b3SingleExtractsAsB3() {
        let h = ["x-b3-traceid": t8, "x-b3-spanid": s1]
        #expect(TraceExtractor.extract([.b3Single], header: { h[$0] }) == found(.b3, trace: t8, orig: 8, span: s1))
    }

    /// Deliberate difference: Kong's b3 extractor returns `{single_header=true, reuse_span_id=true}` for an invalid
    /// `b3` header, which stops extraction (a new trace starts). Argus counts that as nothing found and goes on.
    @Test func invalidB3DoesNotStopExtraction() {
        let h = ["b3": "\(t16)-\(s1)-x", "traceparent": "00-\(t16)-\(s1)-01"]
        #expect(TraceExtractor.extract([.b3, .w3c], header: { h[$0] }) == found(.w3c, trace: t16, orig: 16, span: s1, sampled: true))
    }

    /// Deliberate difference (the report's b3 "quirk"): with the legacy order {b3, w3c, …}, Kong extracts a
    /// traceparent that comes with a non-b3 `tracestate` as an empty b3 context. Argus reads the traceparent.
    @Test func nonB3TracestateIsNotB3() {
        let h = ["traceparent": "00-\(t16)-\(s1)-00", "tracestate": "congo=t61rcWkgMzE"]
        #expect(TraceExtractor.extract(TracePlan.legacyExtract, header: { h[$0] })?.format == .w3c)
    }
}
