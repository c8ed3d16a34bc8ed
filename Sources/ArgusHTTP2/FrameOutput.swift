import NIOCore

/// The frame types and flags of RFC 9113 §6 the server side reads and writes.
enum FrameType {
    static let data: UInt8 = 0x0
    static let headers: UInt8 = 0x1
    static let priority: UInt8 = 0x2
    static let rstStream: UInt8 = 0x3
    static let settings: UInt8 = 0x4
    static let pushPromise: UInt8 = 0x5
    static let ping: UInt8 = 0x6
    static let goAway: UInt8 = 0x7
    static let windowUpdate: UInt8 = 0x8
    static let continuation: UInt8 = 0x9
}

enum FrameFlag {
    static let endStream: UInt8 = 0x1
    static let ack: UInt8 = 0x1
    static let endHeaders: UInt8 = 0x4
    static let padded: UInt8 = 0x8
    static let priority: UInt8 = 0x20
}

/// Frames on their way to the wire: small ones are written into one buffer; a large DATA payload
/// goes as its own buffer behind its frame header (not copied). ``take()`` hands over what is
/// ready, in order, for one vectored write; ``recycle(_:)`` takes the written array and scratch
/// buffer back, so that a flush allocates nothing once the peer's transport has let go of them.
/// Pure.
struct FrameOutput {
    /// Where small frames are written; empty (no storage) between a take and the next frame.
    private var scratch: ByteBuffer
    private var ready: [ByteBuffer] = []
    /// The scratch buffer and the array of the last take, back from the writer (``recycle(_:)``).
    private var spareScratch: ByteBuffer?
    private var spareReady: [ByteBuffer] = []
    /// Whether the last take ended with a scratch buffer (not a large payload of the caller's).
    private var tookScratchLast = false
    private let allocator: ByteBufferAllocator
    /// Payloads at least this long are not copied into the scratch buffer.
    static let copyLimit = 4096

    init(allocator: ByteBufferAllocator) {
        self.allocator = allocator
        self.scratch = allocator.buffer(capacity: 1024)
    }

    var isEmpty: Bool { ready.isEmpty && scratch.readableBytes == 0 }

    /// What is ready to be written, in order; the output is empty after.
    mutating func take() -> [ByteBuffer] {
        tookScratchLast = scratch.readableBytes > 0
        if tookScratchLast {
            ready.append(scratch)
            scratch = ByteBuffer()
        }
        let taken = ready
        ready = spareReady
        spareReady = []
        return taken
    }

    /// Takes back what ``take()`` handed over, once it is written: the array's capacity, and the
    /// scratch buffer if nothing else holds it any more (`clear()` gives a buffer still held
    /// elsewhere new storage, as a new buffer would).
    mutating func recycle(_ written: inout [ByteBuffer]) {
        if tookScratchLast, spareScratch == nil, var last = written.popLast() {
            last.clear()
            spareScratch = last
        }
        tookScratchLast = false
        written.removeAll(keepingCapacity: true)
        if spareReady.capacity < written.capacity { swap(&spareReady, &written) }
    }

    mutating func header(length: Int, type: UInt8, flags: UInt8, stream: Int) {
        if scratch.capacity == 0 { scratch = spareScratch.take() ?? allocator.buffer(capacity: 1024) }
        scratch.writeWithUnsafeMutableBytes(minimumWritableBytes: 9) { out in
            out[0] = UInt8(truncatingIfNeeded: length >> 16)
            out[1] = UInt8(truncatingIfNeeded: length >> 8)
            out[2] = UInt8(truncatingIfNeeded: length)
            out[3] = type
            out[4] = flags
            out[5] = UInt8(truncatingIfNeeded: stream >> 24) & 0x7F
            out[6] = UInt8(truncatingIfNeeded: stream >> 16)
            out[7] = UInt8(truncatingIfNeeded: stream >> 8)
            out[8] = UInt8(truncatingIfNeeded: stream)
            return 9
        }
    }

    mutating func data(stream: Int, _ payload: ByteBuffer, endStream: Bool) {
        header(length: payload.readableBytes, type: FrameType.data, flags: endStream ? FrameFlag.endStream : 0, stream: stream)
        if payload.readableBytes < Self.copyLimit {
            var payload = payload
            scratch.writeBuffer(&payload)
        } else {
            ready.append(scratch)
            ready.append(payload)
            scratch = ByteBuffer()
        }
    }

    /// A header block in a HEADERS frame, cut into CONTINUATION frames past `maxFrameSize`.
    mutating func headers(stream: Int, block: ByteBuffer, endStream: Bool, maxFrameSize: Int) {
        let endFlag = endStream ? FrameFlag.endStream : 0
        var block = block
        if block.readableBytes <= maxFrameSize {
            header(length: block.readableBytes, type: FrameType.headers, flags: endFlag | FrameFlag.endHeaders, stream: stream)
            scratch.writeBuffer(&block)
            return
        }
        var first = true
        while block.readableBytes > 0 {
            var piece = block.readSlice(length: min(maxFrameSize, block.readableBytes))!
            let last = block.readableBytes == 0
            let flags = (first ? endFlag : 0) | (last ? FrameFlag.endHeaders : 0)
            header(length: piece.readableBytes, type: first ? FrameType.headers : FrameType.continuation, flags: flags, stream: stream)
            scratch.writeBuffer(&piece)
            first = false
        }
    }

    mutating func rstStream(stream: Int, code: UInt32) {
        header(length: 4, type: FrameType.rstStream, flags: 0, stream: stream)
        scratch.writeInteger(code)
    }

    mutating func settings(_ values: [(UInt16, UInt32)]) {
        header(length: values.count * 6, type: FrameType.settings, flags: 0, stream: 0)
        for (parameter, value) in values {
            scratch.writeInteger(parameter)
            scratch.writeInteger(value)
        }
    }

    mutating func settingsAck() {
        header(length: 0, type: FrameType.settings, flags: FrameFlag.ack, stream: 0)
    }

    mutating func pingAck(_ opaque: UInt64) {
        header(length: 8, type: FrameType.ping, flags: FrameFlag.ack, stream: 0)
        scratch.writeInteger(opaque)
    }

    mutating func goAway(lastStream: Int, code: UInt32) {
        header(length: 8, type: FrameType.goAway, flags: 0, stream: 0)
        scratch.writeInteger(UInt32(truncatingIfNeeded: lastStream) & 0x7FFF_FFFF)
        scratch.writeInteger(code)
    }

    mutating func windowUpdate(stream: Int, increment: Int) {
        header(length: 4, type: FrameType.windowUpdate, flags: 0, stream: stream)
        scratch.writeInteger(UInt32(truncatingIfNeeded: increment) & 0x7FFF_FFFF)
    }
}
