/// Field numbers and values of the OTLP messages Argus writes (opentelemetry-proto v1:
/// `collector/trace/v1`, `trace/v1`, `collector/logs/v1`, `logs/v1`, `common/v1`, `resource/v1`).
public enum OTLP {
    /// `ExportTraceServiceRequest.resource_spans`, `ExportLogsServiceRequest.resource_logs`.
    public static let requestResources = 1
    /// `ResourceSpans`/`ResourceLogs`: `resource`, then `scope_spans`/`scope_logs`.
    public static let resource = 1
    public static let scopes = 2
    /// `Resource.attributes`.
    public static let resourceAttributes = 1
    /// `ScopeSpans`/`ScopeLogs`: `scope`, then `spans`/`log_records`.
    public static let scope = 1
    public static let scopeItems = 2
    /// `InstrumentationScope`.
    public static let scopeName = 1
    public static let scopeVersion = 2

    /// `Span`'s fields.
    public enum Span {
        public static let traceID = 1
        public static let spanID = 2
        public static let traceState = 3
        public static let parentSpanID = 4
        public static let name = 5
        public static let kind = 6
        public static let start = 7
        public static let end = 8
        public static let attributes = 9
        public static let events = 11
        public static let status = 15
        public static let flags = 16
    }

    /// `Span.Event`'s fields.
    public enum Event {
        public static let time = 1
        public static let name = 2
        public static let attributes = 3
    }

    /// `Status`'s fields and codes.
    public enum Status {
        public static let message = 2
        public static let code = 3
        public static let unset: UInt64 = 0
        public static let ok: UInt64 = 1
        public static let error: UInt64 = 2
    }

    /// `Span.SpanKind`.
    public enum Kind {
        public static let internalKind: UInt64 = 1
        public static let server: UInt64 = 2
        public static let client: UInt64 = 3
    }

    /// `LogRecord`'s fields.
    public enum Log {
        public static let time = 1
        public static let severityNumber = 2
        public static let severityText = 3
        public static let body = 5
        public static let attributes = 6
        public static let flags = 8
        public static let traceID = 9
        public static let spanID = 10
        public static let observedTime = 11
    }

    /// `SpanFlags`: the W3C trace flags in the low byte, and whether the parent is remote.
    public static let flagsHasRemoteBit: UInt32 = 0x100
    public static let flagsIsRemoteBit: UInt32 = 0x200

    /// `KeyValue` and `AnyValue`'s fields.
    static let key = 1
    static let value = 2
    static let stringValue = 1
    static let boolValue = 2
    static let intValue = 3
    static let doubleValue = 4
}

extension ProtobufWriter {
    /// A `KeyValue` with a string value, as field `field` of the message being written.
    public mutating func attribute(_ field: Int, _ key: StaticString, _ value: String) {
        message(field) { w in
            w.staticString(OTLP.key, key)
            w.message(OTLP.value) { $0.stringAlways(OTLP.stringValue, value) }
        }
    }

    /// A `KeyValue` with a string value given as bytes.
    public mutating func attribute(_ field: Int, _ key: StaticString, bytes value: UnsafeRawBufferPointer) {
        message(field) { w in
            w.staticString(OTLP.key, key)
            w.message(OTLP.value) { $0.bytesFieldAlways(OTLP.stringValue, value) }
        }
    }

    /// A `KeyValue` with a string value made of pieces (a URL from its parts).
    public mutating func attribute(_ field: Int, _ key: StaticString, pieces: [UnsafeRawBufferPointer]) {
        message(field) { w in
            w.staticString(OTLP.key, key)
            w.message(OTLP.value) { $0.bytesFieldAlways(OTLP.stringValue, pieces: pieces) }
        }
    }

    /// A `KeyValue` with a 128-bit id as 32 hex digits (request ids).
    public mutating func attributeHex(_ field: Int, _ key: StaticString, high: UInt64, low: UInt64) {
        message(field) { w in
            w.staticString(OTLP.key, key)
            w.message(OTLP.value) { $0.hex128(OTLP.stringValue, high: high, low: low) }
        }
    }

    /// A `KeyValue` with a string key and value given as Strings (resource attributes).
    public mutating func attribute(_ field: Int, key: String, _ value: String) {
        message(field) { w in
            w.string(OTLP.key, key)
            w.message(OTLP.value) { $0.stringAlways(OTLP.stringValue, value) }
        }
    }

    /// A `KeyValue` with an integer value.
    public mutating func attribute(_ field: Int, _ key: StaticString, _ value: Int64) {
        message(field) { w in
            w.staticString(OTLP.key, key)
            w.message(OTLP.value) { $0.intAlways(OTLP.intValue, value) }
        }
    }

    /// A `KeyValue` with a boolean value.
    public mutating func attribute(_ field: Int, _ key: StaticString, _ value: Bool) {
        message(field) { w in
            w.staticString(OTLP.key, key)
            w.message(OTLP.value) { $0.boolAlways(OTLP.boolValue, value) }
        }
    }

    /// A `KeyValue` with a double value.
    public mutating func attribute(_ field: Int, _ key: StaticString, _ value: Double) {
        message(field) { w in
            w.staticString(OTLP.key, key)
            w.message(OTLP.value) { $0.doubleAlways(OTLP.doubleValue, value) }
        }
    }

    /// A `string` field from a static string (attribute keys, span names).
    public mutating func staticString(_ field: Int, _ value: StaticString) {
        value.withUTF8Buffer { bytesField(field, UnsafeRawBufferPointer($0)) }
    }
}
