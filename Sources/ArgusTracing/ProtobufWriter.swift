/// Protocol Buffers' wire format, written straight into a byte array: the few OTLP messages the
/// trace exporter sends (spans, log records, their attributes) are encoded field by field from the
/// request's event, with no message objects in between.
///
/// Nested messages are written in place: ``message(_:_:)`` reserves one byte for the length and,
/// in the rare case the nested message is 128 bytes or more, moves it to make room for a longer
/// varint. Fields are written only when they differ from proto3's default (as protobuf's own
/// encoders do), except where a caller writes them explicitly.
public struct ProtobufWriter: Sendable {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
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
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// A `uint32`/`uint64`/`enum`/`bool` field (omitted when zero).
    public mutating func uint(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .varint)
        varint(value)
    }

    /// An `int64` field (two's complement, ten bytes when negative; omitted when zero).
    public mutating func int(_ field: Int, _ value: Int64) {
        guard value != 0 else { return }
        tag(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A `bool` field written even when false (a `oneof` member must be present to be set).
    public mutating func boolAlways(_ field: Int, _ value: Bool) {
        tag(field, .varint)
        bytes.append(value ? 1 : 0)
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
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
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
        bytes.append(contentsOf: value)
    }

    /// A `string` or `bytes` field made of several pieces (written even when empty).
    public mutating func bytesFieldAlways(_ field: Int, pieces: [UnsafeRawBufferPointer]) {
        tag(field, .lengthDelimited)
        varint(UInt64(pieces.reduce(0) { $0 + $1.count }))
        for piece in pieces { bytes.append(contentsOf: piece) }
    }

    /// A `string` field holding `high` then `low` as 32 lower-case hex digits (request ids).
    public mutating func hex128(_ field: Int, high: UInt64, low: UInt64) {
        tag(field, .lengthDelimited)
        bytes.append(32)
        for v in [high, low] {
            for i in 0..<16 { bytes.append(Hex.digits[Int((v >> UInt64(60 - 4 * i)) & 0xF)]) }
        }
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
        bytes.append(8)
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// A `bytes` field holding `high` then `low` as 16 big-endian bytes (trace ids).
    public mutating func bigEndian128(_ field: Int, high: UInt64, low: UInt64) {
        tag(field, .lengthDelimited)
        bytes.append(16)
        withUnsafeBytes(of: high.bigEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: low.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Bytes already encoded as fields of the message being written (pre-rendered parts).
    public mutating func raw(_ encoded: [UInt8]) {
        bytes.append(contentsOf: encoded)
    }

    /// A nested message field: `body` writes the message's fields.
    public mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        tag(field, .lengthDelimited)
        let lengthAt = bytes.count
        bytes.append(0)
        body(&self)
        let length = bytes.count - lengthAt - 1
        if length < 0x80 {
            bytes[lengthAt] = UInt8(length)
            return
        }
        // a longer varint: make room for it by moving the message up
        var prefix: [UInt8] = []
        var v = UInt64(length)
        while v >= 0x80 {
            prefix.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        prefix.append(UInt8(v))
        bytes.replaceSubrange(lengthAt..<(lengthAt + 1), with: prefix)
    }

    /// The length of a varint, for callers that frame concatenated messages themselves.
    public static func varintLength(_ value: UInt64) -> Int {
        var n = 1
        var v = value
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }
}
