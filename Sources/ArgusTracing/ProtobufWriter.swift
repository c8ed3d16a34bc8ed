/// Protocol Buffers' wire format, written straight into memory: the few OTLP messages the trace
/// exporter sends (spans, log records, their attributes) are encoded field by field from the
/// request's event, with no message objects in between.
///
/// The writer owns a growable buffer (not an `Array`: an append is a capacity check and a store,
/// with no uniqueness check), so it can not be copied; ``bytes`` copies what was written out, and
/// one writer serves a whole batch of requests (``reset()``). Nested messages are written in place:
/// ``message(_:_:)`` reserves one byte for the length and, in the rare case the nested message is
/// 128 bytes or more, moves it to make room for a longer varint. Fields are written only when they
/// differ from proto3's default (as protobuf's own encoders do), except where a caller writes them
/// explicitly.
public struct ProtobufWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// How many bytes were written.
    public private(set) var count = 0

    public init(capacity: Int = 256) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// What was written, copied out.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Starts again, keeping the buffer.
    public mutating func reset() { count = 0 }

    @inline(__always)
    private mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private mutating func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = newCapacity
    }

    @inline(__always)
    private mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    private mutating func append(_ raw: UnsafeRawBufferPointer) {
        guard let source = raw.baseAddress, raw.count > 0 else { return }
        reserve(raw.count)
        (base + count).update(from: source.assumingMemoryBound(to: UInt8.self), count: raw.count)
        count += raw.count
    }

    /// Wire types (the low three bits of a tag).
    enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    @inline(__always)
    mutating func tag(_ field: Int, _ type: WireType) {
        varint(UInt64(field) << 3 | UInt64(type.rawValue))
    }

    @inline(__always)
    public mutating func varint(_ value: UInt64) {
        reserve(10)
        var v = value
        while v >= 0x80 {
            base[count] = UInt8(truncatingIfNeeded: v) | 0x80
            count += 1
            v >>= 7
        }
        base[count] = UInt8(v)
        count += 1
    }

    /// A `uint32`/`uint64`/`enum`/`bool` field (omitted when zero).
    public mutating func uint(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .varint)
        varint(value)
    }

    /// A `bool` field written even when false (a `oneof` member must be present to be set).
    public mutating func boolAlways(_ field: Int, _ value: Bool) {
        tag(field, .varint)
        append(value ? 1 : 0)
    }

    /// An `int64` field written even when zero (a `oneof` member).
    public mutating func intAlways(_ field: Int, _ value: Int64) {
        tag(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A `double` field written even when zero (a `oneof` member).
    public mutating func doubleAlways(_ field: Int, _ value: Double) {
        tag(field, .fixed64)
        appendLittleEndian(value.bitPattern)
    }

    /// A `fixed64` field (omitted when zero).
    public mutating func fixed64(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .fixed64)
        appendLittleEndian(value)
    }

    /// A `fixed32` field (omitted when zero).
    public mutating func fixed32(_ field: Int, _ value: UInt32) {
        guard value != 0 else { return }
        tag(field, .fixed32)
        appendLittleEndian(value)
    }

    @inline(__always)
    private mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { append($0) }
    }

    /// A `string` or `bytes` field (omitted when empty).
    public mutating func bytesField(_ field: Int, _ value: UnsafeRawBufferPointer) {
        guard !value.isEmpty else { return }
        bytesFieldAlways(field, value)
    }

    /// A `string` or `bytes` field written even when empty (a `oneof` member).
    public mutating func bytesFieldAlways(_ field: Int, _ value: UnsafeRawBufferPointer) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        append(value)
    }

    /// A `string` or `bytes` field made of several pieces (written even when empty).
    public mutating func bytesFieldAlways(_ field: Int, pieces: [UnsafeRawBufferPointer]) {
        tag(field, .lengthDelimited)
        varint(UInt64(pieces.reduce(0) { $0 + $1.count }))
        for piece in pieces { append(piece) }
    }

    /// A `string` field holding `high` then `low` as 32 lower-case hex digits (request ids).
    public mutating func hex128(_ field: Int, high: UInt64, low: UInt64) {
        tag(field, .lengthDelimited)
        reserve(33)
        base[count] = 32
        count += 1
        for i in 0..<16 { base[count + i] = Hex.digits[Int((high >> UInt64(60 - 4 * i)) & 0xF)] }
        for i in 0..<16 { base[count + 16 + i] = Hex.digits[Int((low >> UInt64(60 - 4 * i)) & 0xF)] }
        count += 32
    }

    /// A `string` field (omitted when empty).
    public mutating func string(_ field: Int, _ value: String) {
        var value = value
        value.withUTF8 { bytesField(field, UnsafeRawBufferPointer($0)) }
    }

    /// A `string` field written even when empty (a `oneof` member).
    public mutating func stringAlways(_ field: Int, _ value: String) {
        var value = value
        value.withUTF8 { bytesFieldAlways(field, UnsafeRawBufferPointer($0)) }
    }

    /// A `bytes` field holding `value` as 8 big-endian bytes (span ids).
    public mutating func bigEndian64(_ field: Int, _ value: UInt64) {
        tag(field, .lengthDelimited)
        append(8)
        withUnsafeBytes(of: value.bigEndian) { append($0) }
    }

    /// A `bytes` field holding `high` then `low` as 16 big-endian bytes (trace ids).
    public mutating func bigEndian128(_ field: Int, high: UInt64, low: UInt64) {
        tag(field, .lengthDelimited)
        append(16)
        withUnsafeBytes(of: high.bigEndian) { append($0) }
        withUnsafeBytes(of: low.bigEndian) { append($0) }
    }

    /// Bytes already encoded as fields of the message being written (pre-rendered parts).
    public mutating func raw(_ encoded: [UInt8]) {
        encoded.withUnsafeBytes { append($0) }
    }

    /// A nested message field: `body` writes the message's fields.
    public mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        tag(field, .lengthDelimited)
        let lengthAt = count
        append(0)
        body(&self)
        let length = count - lengthAt - 1
        if length < 0x80 {
            base[lengthAt] = UInt8(length)
            return
        }
        // a longer varint: make room for it by moving the message up
        let extra = Self.varintLength(UInt64(length)) - 1
        reserve(extra)
        (base + lengthAt + 1 + extra).update(from: base + lengthAt + 1, count: length)
        count += extra
        var v = UInt64(length), i = lengthAt
        while v >= 0x80 {
            base[i] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            i += 1
        }
        base[i] = UInt8(v)
    }

    /// The length of a varint, for callers that frame concatenated messages themselves.
    public static func varintLength(_ value: UInt64) -> Int {
        var n = 1
        var v = value
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }
}
