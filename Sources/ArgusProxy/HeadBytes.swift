import ArgusSnapshot
import NIOCore

/// Writes a message head straight into a `ByteBuffer`'s free space: one bounds check per piece,
/// where each `ByteBuffer.write…` call also pays an exclusivity check, a uniqueness check and a
/// capacity check (a proxied request writes two heads of about 30 pieces each).
///
/// A piece that does not fit sets `overflowed` and is dropped; `ByteBuffer.writeHead` then
/// writes the whole head again with more room, so a head is never cut short.
struct HeadBytes: ~Copyable {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var count = 0
    private(set) var overflowed = false

    init(_ room: UnsafeMutableRawBufferPointer) {
        base = room.baseAddress!
        capacity = room.count
    }

    @inline(__always)
    mutating func append(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        guard count + raw.count <= capacity else {
            overflowed = true
            return
        }
        (base + count).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        count += raw.count
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { append(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    mutating func append(byte: UInt8) {
        guard count < capacity else {
            overflowed = true
            return
        }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    mutating func append(_ text: String) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { append(UnsafeRawBufferPointer($0)) }
        if done == nil {
            for byte in text.utf8 { append(byte: byte) }
        }
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// A non-negative integer in decimal (a negative one is written as 0: only lengths, ports and
    /// latencies are written, none of which can be negative).
    mutating func append(decimal value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for any Int
        withUnsafeMutableBytes(of: &digits) { scratch in
            var n = UInt(max(0, value))
            var i = scratch.count
            repeat {
                i -= 1
                scratch[i] = UInt8(truncatingIfNeeded: n % 10) &+ 48
                n /= 10
            } while n > 0
            append(UnsafeRawBufferPointer(rebasing: scratch[i...]))
        }
    }

    /// A request id as 32 lower-case hex digits.
    mutating func append(_ id: RequestID) {
        guard count + 32 <= capacity else {
            overflowed = true
            return
        }
        @inline(__always) func hex(_ nibble: UInt64) -> UInt8 {
            let d = UInt8(truncatingIfNeeded: nibble & 0xF)
            return d < 10 ? d &+ 48 : d &+ 87
        }
        for i in 0..<16 {
            let shift = UInt64(60 - 4 * i)
            base.storeBytes(of: hex(id.high >> shift), toByteOffset: count + i, as: UInt8.self)
            base.storeBytes(of: hex(id.low >> shift), toByteOffset: count + 16 + i, as: UInt8.self)
        }
        count += 32
    }
}

extension ByteBuffer {
    /// Writes a head with `body` into room for at least `estimate` bytes; when it does not fit,
    /// it is written again into twice the room, so the estimate only needs to be usually right.
    @inline(__always)
    mutating func writeHead(estimate: Int, _ body: (inout HeadBytes) -> Void) {
        var room = Swift.max(estimate, 64)
        while true {
            var fitted = false
            var offered = room
            writeWithUnsafeMutableBytes(minimumWritableBytes: room) { free in
                offered = free.count
                var head = HeadBytes(free)
                body(&head)
                guard !head.overflowed else { return 0 }
                fitted = true
                return head.count
            }
            if fitted { return }
            // The buffer may have offered more than asked: ask for more than it offered.
            room = Swift.max(room, offered) * 2
        }
    }
}
