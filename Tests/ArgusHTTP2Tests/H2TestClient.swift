@testable import ArgusHTTP2
import NIOCore
import NIOHPACK

/// A client's side of a ``ServerConnectionMachine`` in tests: frames built by hand (header blocks
/// by NIOHPACK's encoder), fed to the machine, and what it wrote read back as frames.
struct H2TestClient {
    struct Frame {
        var type: UInt8
        var flags: UInt8
        var stream: Int
        var payload: ByteBuffer
    }

    var machine: ServerConnectionMachine
    var events: [ServerConnectionMachine.Event] = []
    var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
    var decoder = HPACKDecoder(allocator: ByteBufferAllocator(), maxDynamicTableSize: 4096, maxHeaderListSize: 1 << 20)
    var now: UInt64 = 1_000_000_000

    init(_ settings: ServerConnectionMachine.Settings = .init()) {
        machine = ServerConnectionMachine(settings: settings, allocator: ByteBufferAllocator())
        machine.start()
    }

    static let magic = ByteBuffer(string: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

    /// The preface and an empty SETTINGS frame (or `settings`).
    mutating func connect(settings: [(UInt16, UInt32)] = []) {
        var bytes = Self.magic
        bytes.writeImmutableBuffer(Self.frame(FrameType.settings, 0, 0, settingsPayload(settings)))
        send(bytes)
    }

    func settingsPayload(_ values: [(UInt16, UInt32)]) -> ByteBuffer {
        var payload = ByteBuffer()
        for (parameter, value) in values {
            payload.writeInteger(parameter)
            payload.writeInteger(value)
        }
        return payload
    }

    /// Feeds bytes; returns the events they caused.
    @discardableResult
    mutating func send(_ bytes: ByteBuffer) -> [ServerConnectionMachine.Event] {
        var out: [ServerConnectionMachine.Event] = []
        machine.receive(bytes, now: now, into: &out)
        events += out
        return out
    }

    static func frame(_ type: UInt8, _ flags: UInt8, _ stream: Int, _ payload: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeInteger(UInt8(payload.readableBytes >> 16))
        out.writeInteger(UInt16(truncatingIfNeeded: payload.readableBytes))
        out.writeInteger(type)
        out.writeInteger(flags)
        out.writeInteger(UInt32(stream))
        out.writeImmutableBuffer(payload)
        return out
    }

    mutating func block(_ headers: [(String, String)]) -> ByteBuffer {
        var out = ByteBuffer()
        try! encoder.encode(headers: HPACKHeaders(headers), to: &out)
        return out
    }

    static func request(_ path: String = "/", method: String = "GET") -> [(String, String)] {
        [(":method", method), (":scheme", "http"), (":path", path), (":authority", "x")]
    }

    /// A request's HEADERS frame.
    mutating func headers(_ stream: Int, _ headers: [(String, String)], endStream: Bool = true) -> ByteBuffer {
        Self.frame(FrameType.headers, FrameFlag.endHeaders | (endStream ? FrameFlag.endStream : 0), stream, block(headers))
    }

    static func data(_ stream: Int, _ string: String, endStream: Bool = false) -> ByteBuffer {
        frame(FrameType.data, endStream ? FrameFlag.endStream : 0, stream, ByteBuffer(string: string))
    }

    static func rst(_ stream: Int, code: UInt32 = 8) -> ByteBuffer {
        var payload = ByteBuffer()
        payload.writeInteger(code)
        return frame(FrameType.rstStream, 0, stream, payload)
    }

    static func windowUpdate(_ stream: Int, _ increment: UInt32) -> ByteBuffer {
        var payload = ByteBuffer()
        payload.writeInteger(increment)
        return frame(FrameType.windowUpdate, 0, stream, payload)
    }

    /// What the machine wrote since the last call, as frames.
    mutating func written() -> [Frame] {
        var all = ByteBuffer()
        for var buffer in machine.takeOutput() { all.writeBuffer(&buffer) }
        var frames: [Frame] = []
        while all.readableBytes >= 9 {
            let length = Int(all.readInteger(as: UInt8.self)!) << 16 | Int(all.readInteger(as: UInt16.self)!)
            let type = all.readInteger(as: UInt8.self)!
            let flags = all.readInteger(as: UInt8.self)!
            let stream = Int(all.readInteger(as: UInt32.self)! & 0x7FFF_FFFF)
            frames.append(Frame(type: type, flags: flags, stream: stream, payload: all.readSlice(length: length)!))
        }
        return frames
    }

    /// The error code of a GOAWAY or RST_STREAM frame.
    static func code(_ frame: Frame) -> UInt32? {
        switch frame.type {
        case FrameType.goAway: return frame.payload.getInteger(at: frame.payload.readerIndex + 4, as: UInt32.self)
        case FrameType.rstStream: return frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt32.self)
        default: return nil
        }
    }

    mutating func decode(_ block: ByteBuffer) throws -> HPACKHeaders {
        var block = block
        return try decoder.decodeHeaders(from: &block)
    }
}
