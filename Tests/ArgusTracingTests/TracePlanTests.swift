import ArgusConfig
import ArgusEvents
import Testing
@testable import ArgusTracing

// Kong 3.9.3 spec/01-unit/26-observability/03-propagation_module_spec.lua, request headers 1 and 2.
private let b3Trace = "dc9d1b0ccedf0ecaf4f26ffab84d4f5e", b3Trace8 = "f4f26ffab84d4f5e"
private let b3Span = "b7ad6b7169203332", b3Parent = "f4f26ffab84d4f5f"
private let jaegerTrace = "f744b23fe9aa64f08255043ba51848db", jaegerSpan = "f4f26ffab84d4f60"
private let h1 = [
    "traceparent": "00-\(t16)-\(s1)-01",
    "x-b3-traceid": b3Trace, "x-b3-spanid": b3Span, "x-b3-sampled": "1", "x-b3-parentspanid": b3Parent,
    "uber-trace-id": "\(jaegerTrace):\(jaegerSpan):f4f26ffab84d4f61:01",
]
private let h2 = ["x-b3-traceid": b3Trace8, "x-b3-spanid": b3Span, "x-b3-sampled": "1", "x-b3-parentspanid": b3Parent]
/// Kong's legacy extraction order (`header_type` other than `ignore`).
private let kongOrder: [PropagationFormat] = [.b3, .w3c, .jaeger, .ot, .datadog, .aws, .gcp]
// 04-exporter_spec.lua: at rate 0.5 the first is always sampled, the second never.
private let sampledID = "92a54b3e1a7c4f2da9e44b8a6f3e1dab", notSampledID = "4bf92f3577b34da6a3ce929d0e0e4736"

private func strings(_ items: [String]) -> JSONValue { .array(items.map { .string($0) }) }

/// An `opentelemetry` config: `propagation` from the arguments (left out when none is given), plus `fields`.
private func plan(
    extract: [String]? = nil, inject: [String]? = nil, clear: [String]? = nil, defaultFormat: String? = nil,
    _ fields: [String: JSONValue] = [:]
) -> TracePlan {
    var propagation: [String: JSONValue] = [:]
    if let extract { propagation["extract"] = strings(extract) }
    if let inject { propagation["inject"] = strings(inject) }
    if let clear { propagation["clear"] = strings(clear) }
    if let defaultFormat { propagation["default_format"] = .string(defaultFormat) }
    var config = fields
    if !propagation.isEmpty { config["propagation"] = .object(propagation) }
    return TracePlan(config: .object(config), plugin: 3)
}

/// One request through `begin`, and the upstream request's headers as the proxy makes them (Kong's
/// `propagate`: `clear` first, then each injected header set, replacing the client's).
private struct Run {
    let decision: TracePlan.Decision
    let upstream: [String: String]
    var ids: TraceIDs { decision.ids }
    var trace: String { hex64(ids.traceHigh) + hex64(ids.traceLow) }
    var span: String { hex64(ids.spanID) }
    var up: String { hex64(ids.upstreamSpanID) }
}

private func run(_ plan: TracePlan, _ request: [String: String], rate: Double = 1) -> Run {
    var generator = TraceIDGenerator(seed: (1, 2, 3, 4))
    let decision = plan.begin(header: { request[$0] }, generator: &generator, defaultRate: rate)
    var upstream = request
    for name in decision.remove { upstream[name] = nil }
    for (name, value) in decision.upstreamHeaders { upstream[name] = value }
    return Run(decision: decision, upstream: upstream)
}

/// Kong's `tablex.merge(request_headers, changes, true)`.
private func merged(_ base: [String: String], _ changes: [String: String]) -> [String: String] {
    base.merging(changes) { $1 }
}

/// Argus's ids differ from Kong's spec (whose callback bumps the ids' last digit): the gateway's span is the
/// upstream call's parent (Kong's `kong.balancer` span case) and the upstream call's span goes out.
@Suite struct TracePlanTests {
    @Test func propagationDisabled() {  // "extract empty, inject empty (propagation disabled)"
        let r = run(plan(extract: [], inject: []), h1)
        #expect(r.decision.upstreamHeaders.isEmpty)
        #expect(r.upstream == h1)
        #expect(r.ids.parentSpanID == 0)
        #expect(r.ids.plugin == 3)
    }

    /// "extract = ignore, inject single heder", "… multiple heders", "… inject = preserve, no default setting".
    @Test func noExtractionStartsATrace() {
        let single = run(plan(extract: [], inject: ["w3c"]), h1)
        #expect(single.trace != t16 && single.ids.parentSpanID == 0)
        #expect(single.upstream == merged(h1, ["traceparent": "00-\(single.trace)-\(single.up)-01"]))
        // Kong's callback ctx has no parent id, so its b3 is `t-s-1`; here the gateway's span is the parent
        let multi = run(plan(extract: [], inject: ["w3c", "b3-single"]), h1)
        #expect(multi.upstream == merged(h1, [
            "traceparent": "00-\(multi.trace)-\(multi.up)-01", "b3": "\(multi.trace)-\(multi.up)-1-\(multi.span)",
        ]))
        let preserve = run(plan(extract: [], inject: ["preserve"]), h1)
        #expect(preserve.upstream == merged(h1, ["traceparent": "00-\(preserve.trace)-\(preserve.up)-01"]))
    }

    @Test func preserveUsesDefaultFormat() {
        // "extract = ignore, inject = preserve, uses default format" (datadog: the low 64 bits, in decimal)
        let dd = run(plan(extract: [], inject: ["preserve"], defaultFormat: "datadog"), h1)
        #expect(dd.upstream == merged(h1, [
            "x-datadog-trace-id": String(dd.ids.traceLow), "x-datadog-parent-id": String(dd.ids.upstreamSpanID),
            "x-datadog-sampling-priority": "1",
        ]))
        // "extract configured with header not found in request, inject = preserve, uses default format" (ot:
        // 8 bytes by default)
        let ot = run(plan(extract: ["datadog"], inject: ["preserve"], defaultFormat: "ot"), h1)
        #expect(ot.ids.parentSpanID == 0)
        #expect(ot.upstream == merged(h1, ["ot-tracer-traceid": hex64(ot.ids.traceLow), "ot-tracer-spanid": ot.up, "ot-tracer-sampled": "1"]))
    }

    @Test func preserveAmongOtherFormats() {  // "extract configured with header found in request, inject = preserve + other formats"
        let r = run(plan(extract: ["b3", "w3c", "jaeger"], inject: ["w3c", "preserve", "b3-single"]), h1)
        #expect(r.trace == b3Trace && r.ids.parentSpanID == id64(b3Span))
        #expect(r.upstream == merged(h1, [
            "traceparent": "00-\(b3Trace)-\(r.up)-01",
            "x-b3-traceid": b3Trace, "x-b3-spanid": r.up, "x-b3-sampled": "1", "x-b3-parentspanid": r.span,
            "b3": "\(b3Trace)-\(r.up)-1-\(r.span)",
        ]))
        #expect(r.decision.upstreamHeaders.map(\.name) == ["traceparent", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "b3"])
    }

    @Test func extractionWithoutInjection() {  // "extract configured with header formats, injection disabled"
        let r = run(plan(extract: ["gcp", "aws", "ot", "datadog", "b3", "w3c", "jaeger"], inject: []), h1)
        #expect(r.upstream == h1)
        #expect(r.trace == b3Trace)
    }

    /// "… b3 first", "… w3c first", "… missing first header".
    @Test func extractionOrder() {
        let rows = [
            (["b3", "w3c", "jaeger"], b3Trace, b3Span), (["w3c", "b3", "jaeger"], t16, s1),
            (["datadog", "jaeger", "b3"], jaegerTrace, jaegerSpan),
        ]
        for (extract, trace, span) in rows {
            let r = run(plan(extract: extract, inject: ["w3c"]), h1)
            #expect(r.ids.parentSpanID == id64(span), "\(extract)")
            #expect(r.upstream == merged(h1, ["traceparent": "00-\(trace)-\(r.up)-01"]), "\(extract)")
        }
    }

    @Test func multipleInjection() {  // "extract configured with header formats, multiple injection"
        let r = run(plan(extract: ["w3c", "b3", "jaeger"], inject: ["datadog", "w3c"]), h1)
        #expect(r.upstream == merged(h1, [
            "traceparent": "00-\(t16)-\(r.up)-01",
            "x-datadog-trace-id": t8dec, "x-datadog-parent-id": String(r.ids.upstreamSpanID), "x-datadog-sampling-priority": "1",
        ]))
    }

    @Test func b3KeepsItsWidth() {  // "extract = b3, 64b id, inject = b3 and w3c" and "… 128b id …"
        let r64 = run(plan(extract: ["b3"], inject: ["w3c", "b3"]), h2)
        #expect(r64.upstream == merged(h2, [
            "traceparent": "00-0000000000000000\(b3Trace8)-\(r64.up)-01",
            "x-b3-traceid": b3Trace8, "x-b3-spanid": r64.up, "x-b3-sampled": "1", "x-b3-parentspanid": r64.span,
        ]))
        let r128 = run(plan(extract: ["b3"], inject: ["w3c", "b3"]), h1)
        #expect(r128.upstream == merged(h1, [
            "traceparent": "00-\(b3Trace)-\(r128.up)-01",
            "x-b3-traceid": b3Trace, "x-b3-spanid": r128.up, "x-b3-sampled": "1", "x-b3-parentspanid": r128.span,
        ]))
    }

    @Test func preserveJaegerAndClear() {
        // "extract configured with header formats, inject = preserve (matches jaeger)"
        let r = run(plan(extract: ["datadog", "jaeger", "b3"], inject: ["preserve"]), h1)
        #expect(r.upstream == merged(h1, ["uber-trace-id": "\(jaegerTrace):\(r.up):\(r.span):01"]))
        // "clear = b3 and w3c": the rewritten uber-trace-id is all that is left
        let cleared = ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-parentspanid", "traceparent"]
        let c = run(plan(extract: ["datadog", "jaeger", "b3", "w3c"], inject: ["preserve"], clear: cleared), h1)
        #expect(c.decision.remove == cleared)
        #expect(c.upstream == ["uber-trace-id": "\(jaegerTrace):\(c.up):\(c.span):01"])
    }

    static let headerTypes: [(String, [TracePlan.Injection])] = [
        ("preserve", [.preserve]), ("ignore", [.format(.w3c)]),
        ("b3", [.preserve, .format(.b3)]), ("b3-single", [.preserve, .format(.b3Single)]), ("w3c", [.preserve, .format(.w3c)]),
        ("jaeger", [.preserve, .format(.jaeger)]), ("ot", [.preserve, .format(.ot)]), ("aws", [.preserve, .format(.aws)]),
        ("gcp", [.preserve, .format(.gcp)]), ("datadog", [.preserve, .format(.datadog)]),
    ]

    /// propagation/init.lua `get_plugin_params`: `header_type` applies when `propagation` has no extract/inject/clear.
    @Test(arguments: headerTypes)
    func headerType(_ type: String, _ inject: [TracePlan.Injection]) {
        let p = plan(["header_type": .string(type)])
        #expect(p.extract == (type == "ignore" ? [] : kongOrder))
        #expect(p.inject == inject)
        #expect(p.clear.isEmpty && p.defaultFormat == .w3c)
    }

    @Test func legacyMapping() {
        let p = plan()  // header_type's default is preserve
        #expect(p.extract == kongOrder && p.inject == [.preserve] && p.defaultFormat == .w3c)
        // ignore injects default_format; a propagation record with only default_format is not "configured"
        let ignore = plan(defaultFormat: "datadog", ["header_type": .string("ignore")])
        #expect(ignore.extract.isEmpty && ignore.inject == [.format(.datadog)])
        // any of extract/inject/clear (even an empty array) wins over header_type; a null does not count
        let configured = plan(extract: ["w3c"], ["header_type": .string("ignore")])
        #expect(configured.extract == [.w3c] && configured.inject.isEmpty)
        let empty = plan(clear: [], ["header_type": .string("b3")])
        #expect(empty.extract.isEmpty && empty.inject.isEmpty && empty.clear.isEmpty)
        let nullExtract = TracePlan(config: .object(["header_type": .string("b3"), "propagation": .object(["extract": .null])]), plugin: 0)
        #expect(nullExtract.extract == kongOrder && nullExtract.inject == [.preserve, .format(.b3)])
    }

    /// spec/03-plugins/37-opentelemetry/03-propagation_spec.lua, legacy config, per incoming format.
    @Test func legacyPropagation() {
        let single = run(plan(), ["b3": "\(t16)-\(s1)-1-\(s2)"])  // preserve re-injects b3 single
        #expect(single.ids.parentSpanID == id64(s1))
        #expect(single.decision.upstreamHeaders.map { "\($0.name): \($0.value)" } == ["b3: \(t16)-\(single.up)-1-\(single.span)"])
        let off = run(plan(), ["b3": "\(t16)-\(s1)-0"])  // `t-s-0` → `t-…-0` (parent-based), even at rate 1
        #expect(off.upstream["b3"] == "\(t16)-\(off.up)-0-\(off.span)")
        let w3c = run(plan(["header_type": .string("w3c")]), ["b3": "\(t16)-\(s1)-1-\(s2)"])
        #expect(w3c.upstream == ["b3": "\(t16)-\(w3c.up)-1-\(w3c.span)", "traceparent": "00-\(t16)-\(w3c.up)-01"])
        let jaeger = run(plan(), ["uber-trace-id": "\(t16):\(s1):\(s2):1"])  // flags always 2 digits
        #expect(jaeger.upstream["uber-trace-id"] == "\(t16):\(jaeger.up):\(jaeger.span):01")
        let ot = run(plan(), ["ot-tracer-traceid": t16, "ot-tracer-spanid": s1, "ot-tracer-sampled": "1"])
        #expect(ot.upstream["ot-tracer-traceid"] == t16)
        let dd = run(plan(), ["x-datadog-trace-id": "1234567890"])
        #expect(dd.upstream["x-datadog-trace-id"] == "1234567890")
        #expect(dd.upstream["x-datadog-parent-id"] == String(dd.ids.upstreamSpanID))
        let fresh = run(plan(["header_type": .string("datadog")]), [:])
        #expect(fresh.upstream == [
            "traceparent": "00-\(fresh.trace)-\(fresh.up)-01", "x-datadog-trace-id": String(fresh.ids.traceLow),
            "x-datadog-parent-id": String(fresh.ids.upstreamSpanID), "x-datadog-sampling-priority": "1",
        ])
        let ignore = run(plan(["header_type": .string("ignore")]), ["traceparent": "00-\(t16)-\(s1)-01"])
        #expect(ignore.trace != t16 && ignore.upstream == ["traceparent": "00-\(ignore.trace)-\(ignore.up)-01"])
    }

    /// 03-propagation_spec.lua, new config only: "no preserve", and `clear` of the ot headers.
    @Test func newConfigOnly() {
        let b3In = ["x-b3-traceid": t16, "x-b3-spanid": s1, "x-b3-sampled": "1"]
        let r = run(plan(extract: ["b3"], inject: ["w3c"]), b3In)
        #expect(r.upstream == merged(b3In, ["traceparent": "00-\(t16)-\(r.up)-01"]))
        let otIn = ["traceparent": "00-\(t16)-\(s1)-01", "ot-tracer-traceid": bigT16, "ot-tracer-spanid": bigS, "ot-tracer-sampled": "1"]
        let c = run(plan(extract: ["w3c", "ot"], inject: ["preserve"], clear: ["OT-Tracer-TraceID", "ot-tracer-spanid", "ot-tracer-sampled"]), otIn)
        #expect(c.decision.remove == ["ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled"])
        #expect(c.upstream == ["traceparent": "00-\(t16)-\(c.up)-01"])
    }

    /// traces.lua `get_inject_ctx`: the root span's parent is the incoming span id, else its parent id.
    @Test func parentFallsBackToParentID() {
        let r = run(plan(extract: ["b3"], inject: ["b3"]), ["x-b3-traceid": t16, "x-b3-parentspanid": s2])
        #expect(r.ids.parentSpanID == id64(s2))
        #expect(r.trace == t16)
    }

    /// 03-propagation_spec.lua: the outgoing flag is 01 only at rate 1, even when the incoming one is 01.
    @Test(arguments: [(1.0, true), (0.0, false)])
    func rateDecides(_ rate: Double, _ sampled: Bool) {
        let flag = sampled ? "01" : "00"
        let fresh = run(plan(), [:], rate: rate)
        #expect(fresh.ids.sampled == sampled)
        #expect(fresh.upstream == ["traceparent": "00-\(fresh.trace)-\(fresh.up)-\(flag)"])
        let incoming = run(plan(), ["traceparent": "00-\(t16)-\(s1)-01"], rate: rate)
        #expect(incoming.ids.sampled == sampled)
        #expect(incoming.upstream["traceparent"] == "00-\(t16)-\(incoming.up)-\(flag)")
    }

    /// pdk/tracing.lua `get_sampling_decision`: a client's sampled=false is kept, whatever the rate.
    @Test func clientNotSampledIsKept() {
        let w = run(plan(), ["traceparent": "00-\(t16)-\(s1)-00"], rate: 1)
        #expect(!w.ids.sampled && w.upstream["traceparent"] == "00-\(t16)-\(w.up)-00")
        let b = run(plan(), ["x-b3-sampled": "0"], rate: 1)
        #expect(!b.ids.sampled && b.upstream["x-b3-sampled"] == "0" && b.upstream["x-b3-traceid"] == b.trace)
        #expect(!run(plan(["sampling_rate": .int(1)]), ["b3": "0"], rate: 1).ids.sampled)
    }

    /// 04-exporter_spec.lua "With config.sampling_rate set, using global sampling rate: …" (plugin rate 0.5).
    @Test(arguments: [0, 0.001, 1])
    func pluginRateOverridesGlobal(_ global: Double) {
        let p = plan(["sampling_rate": .double(0.5)])
        #expect(run(p, ["traceparent": "00-\(sampledID)-0123456789abcdef-01"], rate: global).ids.sampled)
        #expect(!run(p, ["traceparent": "00-\(notSampledID)-0123456789abcdef-01"], rate: global).ids.sampled)
    }

    @Test func globalRate() {  // "With config.sampling_rate unset, using global sampling rate: 0.5"
        #expect(run(plan(), ["traceparent": "00-\(sampledID)-0123456789abcdef-01"], rate: 0.5).ids.sampled)
        #expect(!run(plan(), ["traceparent": "00-\(notSampledID)-0123456789abcdef-01"], rate: 0.5).ids.sampled)
    }

    /// The sampler reads the id's first 8 bytes little-endian: 0xffffffffffffff7f is 2^63-1, 0x0000000000000080 is 2^63.
    @Test func samplerByteOrder() {
        let half = TraceSampler(rate: 0.5)
        #expect(half.sample(traceHigh: 0xffff_ffff_ffff_ff7f, traceLow: 0))
        #expect(!half.sample(traceHigh: 0x0000_0000_0000_0080, traceLow: 0))
        // a 64-bit id (zero first bytes) is always sampled at a rate above 0 (report §3, code)
        #expect(TraceSampler(rate: 0.001).sample(traceHigh: 0, traceLow: .max))
        #expect(!TraceSampler(rate: 0).sample(traceHigh: 0, traceLow: 1))
        #expect(TraceSampler(rate: 1).sample(traceHigh: .max, traceLow: .max))
    }

    /// 03-propagation_spec.lua "Dynamic sampling_rate": the incoming trace id goes on whatever the decision.
    @Test(arguments: [1, 0, 0.5])
    func traceIDSurvivesAnyRate(_ rate: Double) {
        let p = plan(["sampling_rate": .double(rate)])
        #expect(run(p, ["x-datadog-trace-id": "7532726115487256575"]).upstream["x-datadog-trace-id"] == "7532726115487256575")
        #expect(run(p, ["b3": "\(t16)-\(s1)-1"]).upstream["b3"]?.hasPrefix("\(t16)-") == true)
        #expect(run(p, ["traceparent": "00-\(t16)-\(s1)-01"]).upstream["traceparent"]?.hasPrefix("00-\(t16)-") == true)
    }

    /// `http_response_header_for_traceid`: 32 hex digits of the trace id, sampled or not (05-otelcol_spec.lua).
    @Test func responseHeader() throws {
        let p = plan(["http_response_header_for_traceid": .string("x-trace-id")])
        let incoming = run(p, ["traceparent": "00-\(t16)-\(s1)-01"], rate: 0)
        #expect(incoming.decision.responseHeader.map { [$0.name, $0.value] } == ["x-trace-id", t16])
        let fresh = run(p, [:], rate: 0)
        let value = try #require(fresh.decision.responseHeader?.value)
        #expect(value == fresh.trace && value.count == 32 && value.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(run(plan(), [:]).decision.responseHeader.map { $0.name } == nil)
    }
}
