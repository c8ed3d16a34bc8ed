import ArgusTracing
import NIOCore

/// How an HTTP sink joins queued records into one request body.
///
/// http-log's records are JSON objects: one alone, or a JSON array. OTLP's are encoded `Span` or
/// `LogRecord` fields (each a tag, a length and the message), which protobuf concatenates into a
/// repeated field: the body is one `ExportTraceServiceRequest` (or logs request) with one
/// resource and one scope, its lengths written around the records as they are.
enum BatchFraming: Sendable {
    case json
    /// Always a JSON array, each record one or more comma-separated items of it (zipkin's spans).
    case jsonArray
    /// `resource` and `scope` are the encoded `resource` and `scope` fields (tags included).
    case otlp(resource: [UInt8], scope: [UInt8])

    /// The body of a batch of `records`, built in the buffer the client sends from.
    func body(_ records: [[UInt8]], single: Bool) -> ByteBuffer {
        let recordBytes = records.reduce(0) { $0 + $1.count }
        switch self {
        case .json, .jsonArray:
            var body = ByteBufferAllocator().buffer(capacity: recordBytes + records.count + 2)
            if case .json = self, single, records.count == 1 {
                body.writeBytes(records[0])
                return body
            }
            body.writeInteger(UInt8(ascii: "["))
            for (i, r) in records.enumerated() {
                if i > 0 { body.writeInteger(UInt8(ascii: ",")) }
                body.writeBytes(r)
            }
            body.writeInteger(UInt8(ascii: "]"))
            return body
        case .otlp(let resource, let scope):
            // ExportRequest { 1: Resource… { 1: resource, 2: Scope… { 1: scope, 2: item, 2: item, … } } }
            let scopeLength = scope.count + recordBytes
            let resourceLength = resource.count + 1 + ProtobufWriter.varintLength(UInt64(scopeLength)) + scopeLength
            var body = ByteBufferAllocator().buffer(capacity: resourceLength + 12)
            func varint(_ value: Int) {
                var v = UInt64(value)
                while v >= 0x80 {
                    body.writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
                    v >>= 7
                }
                body.writeInteger(UInt8(v))
            }
            body.writeInteger(UInt8(OTLP.requestResources << 3 | 2))
            varint(resourceLength)
            body.writeBytes(resource)
            body.writeInteger(UInt8(OTLP.scopes << 3 | 2))
            varint(scopeLength)
            body.writeBytes(scope)
            for r in records { body.writeBytes(r) }
            return body
        }
    }
}
