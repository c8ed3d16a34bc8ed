import ArgusConfig
import ArgusEvents
import Testing
@testable import ArgusTracing

/// The `zipkin` flavour of ``TracePlan``: Kong 3.9's `kong/plugins/zipkin/handler.lua` and the
/// propagation cases of `spec/03-plugins/34-zipkin/zipkin_spec.lua`.
@Suite struct ZipkinPlanTests {
    static let trace = "dc9d1b0ccedf0ecaf4f26ffab84d4f5e", trace8 = "f4f26ffab84d4f5e"
    static let span = "b7ad6b7169203332", parent = "f4f26ffab84d4f5f"

    /// A zipkin config as the schema fills it in (`propagation.default_format` b3, the legacy
    /// `header_type: preserve` and `default_header_type: b3`), plus `fields`.
    static func plan(_ fields: [String: JSONValue] = [:]) -> TracePlan {
        var config: [String: JSONValue] = [
            "sample_ratio": .double(1), "header_type": .string("preserve"), "default_header_type": .string("b3"),
            "traceid_byte_count": .int(16), "propagation": .object(["default_format": .string("b3")]),
        ]
        for (k, v) in fields { config[k] = v }
        return TracePlan(config: .object(config), plugin: 2, flavor: .zipkin)
    }

    static func run(_ plan: TracePlan, _ request: [String: String], seed: UInt64 = 1) -> (TracePlan.Decision, [String: String]) {
        // seeds as the gateway's are: every word random (here a SplitMix-style spread of `seed`)
        let m = seed &* 0x9E37_79B9_7F4A_7C15
        var generator = TraceIDGenerator(seed: (m, m ^ 0xBF58_476D_1CE4_E5B9, m &* 3 ^ 0x94D0_49BB_1331_11EB, ~m))
        let decision = plan.begin(header: { request[$0] }, generator: &generator, defaultRate: 0.01)
        var upstream = request
        for name in decision.remove { upstream[name] = nil }
        for (name, value) in decision.upstreamHeaders { upstream[name] = value }
        return (decision, upstream)
    }

    @Test func b3SingleSharesTheClientsSpan() {  // "b3 single header propagation: works on regular calls"
        let (d, up) = Self.run(Self.plan(), ["b3": "\(Self.trace)-\(Self.span)-1-\(Self.parent)"])
        #expect(hex64(d.ids.traceHigh) + hex64(d.ids.traceLow) == Self.trace)
        #expect(hex64(d.ids.spanID) == Self.span)  // the request span is the client's
        #expect(hex64(d.ids.parentSpanID) == Self.parent)
        #expect(d.ids.upstreamSpanID != d.ids.spanID)  // the proxy span goes upstream, child of the request span
        #expect(up["b3"] == "\(Self.trace)-\(hex64(d.ids.upstreamSpanID))-1-\(Self.span)")
    }

    @Test func b3WithoutParent() {  // "works without parent_id"
        let (d, _) = Self.run(Self.plan(), ["b3": "\(Self.trace)-\(Self.span)-1"])
        #expect(hex64(d.ids.spanID) == Self.span)
        #expect(d.ids.parentSpanID == 0)
    }

    @Test func jaegerSharesTheClientsSpan() {  // "jaeger uber-trace-id header propagation"
        let (d, up) = Self.run(Self.plan(), ["uber-trace-id": "\(Self.trace8):\(Self.span):\(Self.parent):1"])
        #expect(d.ids.traceHigh == 0 && hex64(d.ids.traceLow) == Self.trace8)
        #expect(hex64(d.ids.spanID) == Self.span)
        #expect(hex64(d.ids.parentSpanID) == Self.parent)
        #expect(up["uber-trace-id"] == "\(Self.trace8):\(hex64(d.ids.upstreamSpanID)):\(Self.span):01")
    }

    @Test func w3cParentIsTheClientsSpan() {  // "w3c traceparent header propagation": not shared
        let (d, up) = Self.run(Self.plan(), ["traceparent": "00-\(Self.trace)-\(Self.span)-01"])
        #expect(hex64(d.ids.parentSpanID) == Self.span)
        #expect(hex64(d.ids.spanID) != Self.span)
        #expect(up["traceparent"] == "00-\(Self.trace)-\(hex64(d.ids.upstreamSpanID))-01")
    }

    @Test func shortTraceIDs() {  // traceid_byte_count: 8
        let plan = Self.plan(["traceid_byte_count": .int(8), "http_response_header_for_traceid": .string("X-Trace")])
        let (d, up) = Self.run(plan, [:])
        #expect(d.ids.traceHigh == 0 && d.ids.traceLow != 0)
        #expect(d.responseHeader?.value.count == 16)
        // b3 injected at its first allowed width (Kong pads the 8-byte id to 16 bytes)
        #expect(up["x-b3-traceid"] == String(repeating: "0", count: 16) + hex64(d.ids.traceLow))
        // an extracted id keeps its width; the response header shows Kong's 16 bytes
        let (e, _) = Self.run(plan, ["x-b3-traceid": Self.trace8, "x-b3-spanid": Self.span])
        #expect(hex64(e.ids.traceLow) == Self.trace8)
        #expect(e.responseHeader?.value == String(repeating: "0", count: 16) + Self.trace8)
    }

    @Test func theClientsDecisionIsKept() {
        let never = Self.plan(["sample_ratio": .double(0)])
        #expect(Self.run(never, ["x-b3-sampled": "1", "x-b3-traceid": Self.trace]).0.ids.sampled)
        #expect(!Self.run(never, [:]).0.ids.sampled)
        let always = Self.plan(["sample_ratio": .double(1)])
        #expect(!Self.run(always, ["x-b3-sampled": "0", "x-b3-traceid": Self.trace]).0.ids.sampled)
        #expect(Self.run(always, [:]).0.ids.sampled)
    }

    @Test func sampleRatioIsADrawPerRequest() {
        let half = Self.plan(["sample_ratio": .double(0.5)])
        // the same client trace id, different draws: both outcomes happen (Kong's `math.random()`)
        let outcomes = Set((1...64).map { Self.run(half, ["x-b3-traceid": Self.trace, "x-b3-spanid": Self.span], seed: $0).0.ids.sampled })
        #expect(outcomes == [true, false])
    }

    @Test func defaultHeaderTypeIsTheLegacyDefaultFormat() {
        let single = Self.plan(["default_header_type": .string("b3-single")])
        let (d, up) = Self.run(single, [:])
        #expect(up["b3"] == "\(hex64(d.ids.traceHigh))\(hex64(d.ids.traceLow))-\(hex64(d.ids.upstreamSpanID))-1-\(hex64(d.ids.spanID))")
        #expect(up["x-b3-traceid"] == nil)
        // with `propagation` configured, `default_header_type` is not read
        let configured = Self.plan([
            "default_header_type": .string("b3-single"),
            "propagation": .object(["extract": .array([.string("b3")]), "inject": .array([.string("preserve")]), "default_format": .string("w3c")]),
        ])
        #expect(Self.run(configured, [:]).1["traceparent"] != nil)
    }

    @Test func exportsOnlyWithAnEndpoint() {
        #expect(!Self.plan().exportsTraces)
        #expect(Self.plan(["http_endpoint": .string("http://z:9411/api/v2/spans")]).exportsTraces)
        #expect(!Self.plan(["http_endpoint": .string("http://z:9411/api/v2/spans")]).exportsLogs)
    }

    // spec/03-plugins/34-zipkin/request_tags_spec.lua
    @Test func requestTags() {
        func tags(_ values: String...) -> [String: String] {
            Dictionary(ZipkinRequestTags.parse(values).tags.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        }
        for text in ["foo=bar", "foo=  bar", "foo =bar", "foo  =  bar", "   foo =  bar", "foo = bar   ", "  foo = bar   "] {
            #expect(tags(text) == ["foo": "bar"], "\(text)")
        }
        let (kept, unreadable) = ZipkinRequestTags.parse(["foobar;foo=;=bar;keep=true;="])
        #expect(kept.map(\.name) == ["keep"] && kept.map(\.value) == ["true"])
        #expect(ZipkinRequestTags.message(unreadable) == "Could not parse the following Zipkin tags: foobar, foo=, =bar, =")
        #expect(tags("foo=bar baz") == ["foo": "bar baz"])
        #expect(tags("foo bar=baz").isEmpty)
        #expect(ZipkinRequestTags.message(ZipkinRequestTags.parse(["foo bar=baz"]).unreadable)
            == "Could not parse the following Zipkin tags: foo bar=baz")
        for text in ["foo=bar;baz=qux", "foo  =bar;baz=qux", "  foo=bar  ;baz=qux", "  foo  =  bar  ;baz  =  qux"] {
            #expect(tags(text) == ["foo": "bar", "baz": "qux"], "\(text)")
        }
        #expect(tags(";;foo=bar;;;;baz=qux;;") == ["foo": "bar", "baz": "qux"])
        #expect(ZipkinRequestTags.parse([";;foo=bar;;;;baz=qux;;"]).unreadable.isEmpty)
        #expect(tags("foo=bar;baz=qux", "quux=quuz") == ["foo": "bar", "baz": "qux", "quux": "quuz"])
        // Lua's greedy `%S+` backtracks to the last `=` of the first word
        #expect(tags("a=b=c") == ["a=b": "c"])
    }
}
