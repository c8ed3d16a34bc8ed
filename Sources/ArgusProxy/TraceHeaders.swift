import ArgusHTTP
import NIOCore

/// The trace-context headers of a request (the names Kong's extractors read), found in one pass
/// over its fields: most requests carry none, and then nothing is allocated and every lookup the
/// extractors make is a miss.
struct TraceHeaders {
    /// The lower-case names the extractors read.
    static let names: [[UInt8]] = [
        "traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags",
        "uber-trace-id", "ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled", "x-datadog-trace-id", "x-datadog-parent-id",
        "x-datadog-sampling-priority", "x-amzn-trace-id", "x-cloud-trace-context",
    ].map { Array($0.utf8) }

    /// (index into ``names``, value) of the first field of each name present.
    private var found: [(name: Int, value: String)] = []

    init(_ head: RequestHead) {
        head.bytes.withUnsafeReadableBytes { raw in
            for field in head.fields where field.name == .other {
                // every name above starts with one of these letters
                let first = raw[field.nameStart] | 0x20
                guard first == UInt8(ascii: "t") || first == UInt8(ascii: "b") || first == UInt8(ascii: "x")
                    || first == UInt8(ascii: "u") || first == UInt8(ascii: "o") else { continue }
                for (i, name) in Self.names.enumerated() where field.isNamed(name, in: raw) {
                    if !found.contains(where: { $0.name == i }) {
                        let value = UnsafeRawBufferPointer(rebasing: raw[field.valueStart..<(field.valueStart + field.valueLength)])
                        found.append((i, String(decoding: value, as: UTF8.self)))
                    }
                    break
                }
            }
        }
    }

    /// The first value of the header `lowercasedName`, nil when the request has none.
    func value(_ lowercasedName: String) -> String? {
        guard !found.isEmpty else { return nil }
        for (i, value) in found where Self.names[i].elementsEqual(lowercasedName.utf8) { return value }
        return nil
    }
}
