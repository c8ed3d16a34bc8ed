/// Where a request's details are encoded on its event loop before they go on the ring: one buffer
/// kept by the loop, reserved once per request for the encoding's largest size and written
/// through a pointer (an `Array`'s appends check capacity and uniqueness field by field, a dozen
/// times a request). ``bytes`` is valid until the next encoding.
public final class DetailEncoder {
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private var count = 0

    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        base = .allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit { base.deallocate() }

    /// The last encoding.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Room for `size` bytes from the start (what was there is dropped).
    fileprivate func start(reserving size: Int) -> UnsafeMutableRawPointer {
        if size > capacity {
            var bigger = capacity * 2
            while bigger < size { bigger *= 2 }
            base.deallocate()
            base = .allocate(byteCount: bigger, alignment: 8)
            capacity = bigger
        }
        count = 0
        return base
    }

    fileprivate func finish(_ written: Int) { count = written }
}

/// Writes at a pointer the caller has reserved room at (little-endian integers, unaligned).
private struct DetailCursor {
    let base: UnsafeMutableRawPointer
    var at = 0

    mutating func put<T: FixedWidthInteger>(_ value: T) {
        base.storeBytes(of: value.littleEndian, toByteOffset: at, as: T.self)
        at += MemoryLayout<T>.size
    }

    mutating func put(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        (base + at).copyMemory(from: source, byteCount: bytes.count)
        at += bytes.count
    }

    /// A u32 length and at most `cap` bytes.
    mutating func section(_ bytes: UnsafeRawBufferPointer, _ cap: Int) {
        let n = min(bytes.count, cap)
        put(UInt32(n))
        put(UnsafeRawBufferPointer(rebasing: bytes.prefix(n)))
    }

    /// A length byte and at most 255 bytes of `text` (no copy of a native String).
    mutating func short(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            let n = min(utf8.count, 255)
            put(UInt8(n))
            put(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[..<n]))
        }
    }
}

extension RequestDetail {
    /// Encodes these parts into `encoder` (replacing its last encoding): the event loop's path.
    public static func encode(
        requestHead: UnsafeRawBufferPointer, upstreamTarget: UnsafeRawBufferPointer, responseHead: UnsafeRawBufferPointer,
        tries: [Try], serverPort: Int, credentialID: String? = nil, correlationID: String? = nil, tls: TLSFacts? = nil,
        grpcStatus: Int? = nil, trace: TraceIDs? = nil, responseLimits: ResponseLimits? = nil, into encoder: DetailEncoder
    ) {
        let kept = tries.prefix(maxTries)
        let heads = min(requestHead.count, maxHeadBytes) + min(upstreamTarget.count, maxHeadBytes) + min(responseHead.count, maxHeadBytes)
        // the largest the encoding can be: each short string at its cut of 256 bytes
        let size = 2 + 12 + heads + 1 + kept.count * (256 + 13) + 5 * 256 + 2 + (5 * 8 + 5)
            + (responseLimits.map { 2 + 8 + 256 + 1 + min($0.increments.count, 255) * 9 } ?? 0)
        var out = DetailCursor(base: encoder.start(reserving: size))
        out.put(UInt16(clamping: serverPort))
        out.section(requestHead, maxHeadBytes)
        out.section(upstreamTarget, maxHeadBytes)
        out.section(responseHead, maxHeadBytes)
        out.put(UInt8(kept.count))
        for t in kept {
            out.short(t.host)
            out.put(UInt16(clamping: t.port))
            out.put(t.code)
            out.put(UInt8(t.failed ? 1 : 0))
            out.put(t.startedAt)
        }
        out.short(credentialID ?? "")
        out.short(correlationID ?? "")
        out.short(tls?.version ?? "")
        out.short(tls?.cipher ?? "")
        out.short(tls?.serverName ?? "")
        if grpcStatus != nil || trace != nil || responseLimits != nil {
            out.put(grpcStatus.map { Int16(clamping: $0) } ?? .min)
        }
        // response limits follow a trace block: an untraced request's is zeros with plugin Int16.min
        if let trace = trace ?? responseLimits.map({ _ in TraceIDs(
            traceHigh: 0, traceLow: 0, parentSpanID: 0, spanID: 0, upstreamSpanID: 0, sampled: false, plugin: .min) }) {
            out.put(trace.traceHigh)
            out.put(trace.traceLow)
            out.put(trace.parentSpanID)
            out.put(trace.spanID)
            out.put(trace.upstreamSpanID)
            out.put(UInt8(trace.sampled ? 1 : 0))
            out.put(trace.plugin)
            out.put(trace.injected)
            out.put(trace.originalSize)
        }
        if let limits = responseLimits {
            out.put(limits.plugin)
            out.put(limits.nowMs)
            out.short(limits.identifier)
            let increments = limits.increments.prefix(255)
            out.put(UInt8(increments.count))
            for increment in increments {
                out.put(increment.limit)
                out.put(increment.value)
            }
        }
        precondition(out.at <= size, "detail encoding past its reservation")
        encoder.finish(out.at)
    }
}
