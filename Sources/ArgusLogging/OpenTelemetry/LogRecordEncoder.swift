import ArgusEvents
import ArgusTracing

/// A request's log record (Kong's serialized record, as file-log and http-log write it) as an OTLP
/// `LogRecord` tied to the request's trace and span: the JSON record is its body, the response
/// status its severity (INFO below 400, WARN below 500, ERROR from 500; numbers as OTLP's
/// `SeverityNumber`).
enum LogRecordEncoder {
    static func encode(
        _ event: RequestEvent, record: UnsafeRawBufferPointer, ids: RequestDetail.TraceIDs, clock: WallClock, into w: inout ProtobufWriter
    ) {
        let (number, text): (UInt64, StaticString) = event.status >= 500 ? (17, "ERROR") : event.status >= 400 ? (13, "WARN") : (9, "INFO")
        w.message(OTLP.scopeItems) { w in
            w.fixed64(OTLP.Log.time, clock.wallNanos(monotonic: max(event.completedAt, event.receivedAt)))
            w.uint(OTLP.Log.severityNumber, number)
            w.staticString(OTLP.Log.severityText, text)
            w.message(OTLP.Log.body) { $0.bytesFieldAlways(1, record) }
            w.attribute(OTLP.Log.attributes, "request.id", Hex.encode(event.requestIDHigh) + Hex.encode(event.requestIDLow))
            w.attribute(OTLP.Log.attributes, "http.status_code", Int64(event.status))
            w.fixed32(OTLP.Log.flags, ids.sampled ? 1 : 0)
            w.bigEndian128(OTLP.Log.traceID, high: ids.traceHigh, low: ids.traceLow)
            w.bigEndian64(OTLP.Log.spanID, ids.spanID)
            w.fixed64(OTLP.Log.observedTime, clock.now())
        }
    }
}
