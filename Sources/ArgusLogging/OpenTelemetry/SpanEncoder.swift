import ArgusConfig
import ArgusEvents
import ArgusTracing

/// A traced request's spans as OTLP `Span` messages, written from its event and details off the
/// event loops: Kong's root span (`kong`, server kind, its `http.*` attributes) and one
/// `kong.balancer` client span per upstream try (the last one is the span the upstream saw as its
/// parent). Each span is a complete `ScopeSpans.spans` field, so a batch is the spans of many
/// requests concatenated (``BatchFraming/otlp(resource:scope:)``).
struct SpanEncoder {
    let clock: WallClock

    /// Appends the request's spans to `w`.
    func encode(
        _ event: RequestEvent, _ parts: RequestDetail.Parts, _ ids: RequestDetail.TraceIDs, _ request: HeadLines, routePath: String?,
        answeredBy plugin: String? = nil, into w: inout ProtobufWriter
    ) {
        let start = clock.wallNanos(monotonic: event.receivedAt)
        let end = clock.wallNanos(monotonic: max(event.completedAt, event.receivedAt))
        let sampledFlag: UInt32 = ids.sampled ? 1 : 0
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)

        w.message(OTLP.scopeItems) { w in
            w.bigEndian128(OTLP.Span.traceID, high: ids.traceHigh, low: ids.traceLow)
            w.bigEndian64(OTLP.Span.spanID, ids.spanID)
            if ids.parentSpanID != 0 { w.bigEndian64(OTLP.Span.parentSpanID, ids.parentSpanID) }
            w.staticString(OTLP.Span.name, "kong")
            w.uint(OTLP.Span.kind, OTLP.Kind.server)
            w.fixed64(OTLP.Span.start, start)
            w.fixed64(OTLP.Span.end, end)
            let a = OTLP.Span.attributes
            let method = event.method == .other ? String(decoding: request.method, as: UTF8.self) : event.method.description
            w.attribute(a, "http.method", method)
            let scheme: StaticString = event.transport & ClientTransport.tls != 0 ? "https" : "http"
            let host = request.first("host").map(LogSerializer.stripPort) ?? empty
            let target = request.requestTarget
            // scheme://host + the request's target, as Kong's `http.url`
            let separator: StaticString = "://"
            scheme.withUTF8Buffer { schemeBytes in
                separator.withUTF8Buffer { separatorBytes in
                    w.attribute(a, "http.url", pieces: [UnsafeRawBufferPointer(schemeBytes), UnsafeRawBufferPointer(separatorBytes), host, target])
                }
            }
            w.attribute(a, "http.host", bytes: host)
            scheme.withUTF8Buffer { w.attribute(a, "http.scheme", bytes: UnsafeRawBufferPointer($0)) }
            w.attribute(a, "http.flavor", Self.flavor(event.httpVersion))
            Self.withAddressText(event) { client in
                w.attribute(a, "http.client_ip", bytes: client)
                w.attribute(a, "net.peer.ip", bytes: client)
            }
            w.attributeHex(a, "kong.request.id", high: event.requestIDHigh, low: event.requestIDLow)
            w.attribute(a, "http.status_code", Int64(event.status))
            w.attribute(a, "http.route", routePath ?? "")
            // beyond Kong's: what the OpenTelemetry HTTP conventions also ask for
            if let agent = request.first("user-agent") { w.attribute(a, "http.user_agent", bytes: agent) }
            w.attribute(a, "http.request.size", Int64(clamping: event.requestBytes))
            w.attribute(a, "http.response.size", Int64(clamping: event.responseBytes))
            if let status = parts.grpcStatus { w.attribute(a, "rpc.grpc.status_code", Int64(status)) }
            if let plugin {
                // the access-phase plugin that answered the request itself (a refusal, a 429, a cache hit)
                w.message(OTLP.Span.events) { w in
                    w.fixed64(OTLP.Event.time, end)
                    w.string(OTLP.Event.name, plugin)
                    w.attribute(OTLP.Event.attributes, "kong.decision", event.decision.description)
                    w.attribute(OTLP.Event.attributes, "http.status_code", Int64(event.status))
                }
            }
            if event.status >= 500 { w.message(OTLP.Span.status) { $0.uint(OTLP.Status.code, OTLP.Status.error) } }
            w.fixed32(OTLP.Span.flags, sampledFlag | OTLP.flagsHasRemoteBit | (ids.parentSpanID != 0 ? OTLP.flagsIsRemoteBit : 0))
        }

        // one client span per try; the last is the span injected upstream
        var tries: [RequestDetail.Parts.TryView] = []
        tries.reserveCapacity(parts.tryCount)
        parts.forEachTry { tries.append($0) }
        for (i, t) in tries.enumerated() {
            let last = i == tries.count - 1
            let spanID = last ? ids.upstreamSpanID : Self.trySpanID(ids.upstreamSpanID, i)
            let tryStart = clock.wallNanos(monotonic: t.startedAt != 0 ? t.startedAt : event.receivedAt)
            let tryEnd = last ? end : clock.wallNanos(monotonic: tries[i + 1].startedAt != 0 ? tries[i + 1].startedAt : event.completedAt)
            w.message(OTLP.scopeItems) { w in
                w.bigEndian128(OTLP.Span.traceID, high: ids.traceHigh, low: ids.traceLow)
                w.bigEndian64(OTLP.Span.spanID, spanID)
                w.bigEndian64(OTLP.Span.parentSpanID, ids.spanID)
                w.staticString(OTLP.Span.name, "kong.balancer")
                w.uint(OTLP.Span.kind, OTLP.Kind.client)
                w.fixed64(OTLP.Span.start, tryStart)
                w.fixed64(OTLP.Span.end, max(tryEnd, tryStart))
                let a = OTLP.Span.attributes
                w.attribute(a, "try_count", Double(i + 1))
                w.attribute(a, "net.peer.ip", bytes: t.host)
                w.attribute(a, "net.peer.port", Double(t.port))
                if t.failed {
                    w.attribute(a, "http.status_code", Int64(t.code))
                    w.message(OTLP.Span.status) { $0.uint(OTLP.Status.code, OTLP.Status.error) }
                } else if last, event.upstreamFirstByteAt != 0 {
                    // the upstream's time to first byte, beyond Kong's attributes
                    w.message(OTLP.Span.events) { w in
                        w.fixed64(OTLP.Event.time, clock.wallNanos(monotonic: event.upstreamFirstByteAt))
                        w.staticString(OTLP.Event.name, "first byte")
                    }
                }
                w.fixed32(OTLP.Span.flags, sampledFlag | OTLP.flagsHasRemoteBit)
            }
        }
    }

    /// The client address as text, without a String for IPv4 (the common case).
    static func withAddressText(_ event: RequestEvent, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard event.addressFamily == .ipv4 else {
            var text = LogSerializer.addressText(event)
            text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            var n = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                let octet = Int(truncatingIfNeeded: event.clientAddress.low >> UInt64(shift)) & 0xFF
                if shift != 24 { buffer[n] = UInt8(ascii: "."); n += 1 }
                if octet >= 100 { buffer[n] = UInt8(48 + octet / 100); n += 1 }
                if octet >= 10 { buffer[n] = UInt8(48 + octet / 10 % 10); n += 1 }
                buffer[n] = UInt8(48 + octet % 10); n += 1
            }
            body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[..<n]))
        }
    }

    /// Kong's `http.flavor`: `1.1`, `1.0`, `2.0`.
    static func flavor(_ version: UInt8) -> String {
        switch version {
        case 10: return "1.0"
        case 20: return "2.0"
        default: return "1.1"
        }
    }

    /// The span id of an earlier try: derived from the last try's (a bijective mix, never 0).
    static func trySpanID(_ upstream: UInt64, _ index: Int) -> UInt64 {
        var x = upstream ^ (UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15)
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        x ^= x >> 31
        return x == 0 ? 1 : x
    }
}
