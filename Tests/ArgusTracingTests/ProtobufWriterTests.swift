import Testing
@testable import ArgusTracing

private func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

private func a(_ count: Int) -> [UInt8] { [UInt8](repeating: 0x61, count: count) }

/// The wire bytes below are worked out by hand from the protobuf encoding (tag = field << 3 | wire type;
/// lengths as base-128 varints, low group first) and OTLP's field numbers (trace/v1, common/v1).
@Suite struct ProtobufWriterTests {
    /// An `ExportTraceServiceRequest` holding one span whose message is 208 bytes, so the span, its
    /// `ScopeSpans` and its `ResourceSpans` all take 2-byte lengths (the writer reserved one byte for each).
    @Test func spanWithAttributes() {
        var w = ProtobufWriter()
        w.message(OTLP.requestResources) { resource in
            resource.message(OTLP.scopes) { scopeSpans in
                scopeSpans.message(OTLP.scope) { $0.string(OTLP.scopeName, "kong-internal") }
                scopeSpans.message(OTLP.scopeItems) { span in
                    span.bigEndian128(OTLP.Span.traceID, high: 0x0af7_6519_16cd_43dd, low: 0x8448_eb21_1c80_319c)
                    span.bigEndian64(OTLP.Span.spanID, 0xb7ad_6b71_6920_3331)
                    span.string(OTLP.Span.traceState, "")  // proto3 default: not written
                    span.string(OTLP.Span.name, "kong")
                    span.uint(OTLP.Span.kind, OTLP.Kind.server)
                    span.fixed64(OTLP.Span.start, 0x0102_0304_0506_0708)
                    span.fixed64(OTLP.Span.end, 0)  // not written
                    span.attribute(OTLP.Span.attributes, "http.method", "GET")
                    span.attribute(OTLP.Span.attributes, "http.status_code", Int64(200))
                    span.attribute(OTLP.Span.attributes, "http.url", String(repeating: "a", count: 100))
                }
            }
        }
        var span: [UInt8] = []
        span += [0x0a, 0x10, 0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c]  // 1: trace_id
        span += [0x12, 0x08, 0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]  // 2: span_id
        span += [0x2a, 0x04] + ascii("kong")  // 5: name
        span += [0x30, 0x02]  // 6: kind SERVER
        span += [0x39, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01]  // 7: start_time_unix_nano, fixed64 little-endian
        // 9: attributes, KeyValue { 1: key, 2: AnyValue { 1: string_value | 3: int_value } }
        span += [0x4a, 0x14, 0x0a, 0x0b] + ascii("http.method") + [0x12, 0x05, 0x0a, 0x03] + ascii("GET")
        span += [0x4a, 0x17, 0x0a, 0x10] + ascii("http.status_code") + [0x12, 0x03, 0x18, 0xc8, 0x01]
        span += [0x4a, 0x72, 0x0a, 0x08] + ascii("http.url") + [0x12, 0x66, 0x0a, 0x64] + a(100)
        var expected: [UInt8] = [0x0a, 0xe7, 0x01]  // 1: resource_spans, 231 bytes
        expected += [0x12, 0xe4, 0x01]  // 2: scope_spans, 228 bytes
        expected += [0x0a, 0x0f, 0x0a, 0x0d] + ascii("kong-internal")  // 1: scope { 1: name }
        expected += [0x12, 0xd0, 0x01]  // 2: spans, 208 bytes
        expected += span
        #expect(w.bytes == expected)
    }

    /// A nested message of 127 bytes keeps its one length byte; 128 bytes need two.
    @Test func lengthVarintBoundary() {
        var short = ProtobufWriter()
        short.message(1) { $0.string(1, String(repeating: "a", count: 125)) }
        #expect(short.bytes == [0x0a, 0x7f, 0x0a, 0x7d] + a(125))
        var long = ProtobufWriter()
        long.message(1) { $0.string(1, String(repeating: "a", count: 126)) }
        #expect(long.bytes == [0x0a, 0x80, 0x01, 0x0a, 0x7e] + a(126))
    }

    /// 20 000 bytes: a 3-byte string length (0xa0 0x9c 0x01), and 20 004 for the message (0xa4 0x9c 0x01).
    @Test func threeByteLength() {
        var w = ProtobufWriter()
        w.raw([0x08, 0x01])
        w.message(2) { $0.string(1, String(repeating: "a", count: 20_000)) }
        w.uint(3, 1)
        #expect(w.bytes == [0x08, 0x01, 0x12, 0xa4, 0x9c, 0x01, 0x0a, 0xa0, 0x9c, 0x01] + a(20_000) + [0x18, 0x01])
    }

    /// AnyValue's oneof members are written even when zero or false: double as fixed64 little-endian
    /// (1.5 = 0x3ff8000000000000), a negative int64 as a 10-byte varint, bool false as 0.
    @Test func attributeValues() {
        var w = ProtobufWriter()
        w.attribute(9, "d", 1.5)
        w.attribute(9, "b", false)
        w.attribute(9, "i", Int64(-1))
        w.attribute(9, "z", Int64(0))
        var expected: [UInt8] = [0x4a, 0x0e, 0x0a, 0x01, 0x64, 0x12, 0x09, 0x21, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f]
        expected += [0x4a, 0x07, 0x0a, 0x01, 0x62, 0x12, 0x02, 0x10, 0x00]
        expected += [0x4a, 0x10, 0x0a, 0x01, 0x69, 0x12, 0x0b, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        expected += [0x4a, 0x07, 0x0a, 0x01, 0x7a, 0x12, 0x02, 0x18, 0x00]
        #expect(w.bytes == expected)
    }

    @Test func varintLength() {
        #expect([0, 127, 128, 16_383, 16_384, UInt64.max].map(ProtobufWriter.varintLength) == [1, 1, 2, 2, 3, 10])
        var w = ProtobufWriter()
        w.varint(300)
        #expect(w.bytes == [0xac, 0x02])
    }
}

/// The id parsers the extractors use (Kong's `from_hex`, `bn.from_dec`).
@Suite struct HexTests {
    private func pair(_ value: (high: UInt64, low: UInt64)?) -> [UInt64]? { value.map { [$0.high, $0.low] } }

    @Test func parse128() {
        #expect(pair(Hex.parse128("1234".utf8)) == [0, 0x1234])
        #expect(pair(Hex.parse128(t16.utf8)) == [0x0af7_6519_16cd_43dd, 0x8448_eb21_1c80_319c])
        #expect(pair(Hex.parse128(t16.uppercased().utf8)) == [0x0af7_6519_16cd_43dd, 0x8448_eb21_1c80_319c])
        #expect(pair(Hex.parse128("10000000000000000".utf8)) == [1, 0])  // 17 digits
        #expect(pair(Hex.parse128(bigT16.utf8)) == [UInt64.max, 0xffff_ffff_ffff_fff1])
        #expect(pair(Hex.parse128((t16 + "0").utf8)) == nil)  // 33 digits
        #expect(pair(Hex.parse128("".utf8)) == nil)
        #expect(pair(Hex.parse128("0af7651916cd43dd8448eb211c80319g".utf8)) == nil)
        #expect(pair(Hex.parse128("g448eb211c80319c0af7651916cd43dd".utf8)) == nil)
    }

    /// Datadog's decimal ids, up to 128 bits.
    @Test func parseDecimal128() {
        #expect(pair(Hex.parseDecimal128(t8dec.utf8)) == [0, 0x8448_eb21_1c80_319c])
        #expect(pair(Hex.parseDecimal128("18446744073709551615".utf8)) == [0, UInt64.max])
        #expect(pair(Hex.parseDecimal128("18446744073709551616".utf8)) == [1, 0])
        #expect(pair(Hex.parseDecimal128(bigT16dec.utf8)) == [UInt64.max, 0xffff_ffff_ffff_fff1])
        #expect(pair(Hex.parseDecimal128("340282366920938463463374607431768211455".utf8)) == [UInt64.max, UInt64.max])
        #expect(pair(Hex.parseDecimal128("340282366920938463463374607431768211456".utf8)) == nil)  // 2^128
        #expect(pair(Hex.parseDecimal128("".utf8)) == nil)
        #expect(pair(Hex.parseDecimal128("12a".utf8)) == nil)
        #expect(pair(Hex.parseDecimal128("-1".utf8)) == nil)
        #expect(Hex.parseDecimal("18446744073709551615".utf8) == UInt64.max)
        #expect(Hex.parseDecimal("18446744073709551616".utf8) == nil)
    }

    @Test func encode() {
        #expect(Hex.encode(0x0af7_6519_16cd_43dd) == "0af7651916cd43dd")
        #expect(Hex.encode(0) == "0000000000000000")
    }
}
