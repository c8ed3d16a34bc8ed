@testable import ArgusHTTP2
import NIOCore
import Testing

@Suite struct FrameOutputTests {
    /// The bytes of one 9-byte frame header followed by `payload`.
    private func frame(type: UInt8, flags: UInt8 = 0, stream: Int, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags, 0, 0, 0, UInt8(stream)] + payload
    }

    @Test func recycledBuffersAreReusedOnlyWhenNobodyElseHoldsThem() {
        var output = FrameOutput(allocator: ByteBufferAllocator())
        output.rstStream(stream: 1, code: 8)
        var first = output.take()
        #expect(first.count == 1)
        // The writer still holds what it was given (a write not finished yet): recycling must not
        // let the next frames overwrite it.
        let held = first[0]
        output.recycle(&first)
        #expect(first.isEmpty)
        output.pingAck(0x0102_0304_0506_0708)
        var second = output.take()
        #expect(Array(held.readableBytesView) == frame(type: FrameType.rstStream, stream: 1, [0, 0, 0, 8]))
        #expect(Array(second[0].readableBytesView) == frame(type: FrameType.ping, flags: FrameFlag.ack, stream: 0, [1, 2, 3, 4, 5, 6, 7, 8]))
        output.recycle(&second)
        // Nothing held any more: the next take is built in the recycled buffer, and reads the same.
        output.windowUpdate(stream: 3, increment: 5)
        output.settingsAck()
        let third = output.take()
        #expect(third.count == 1)
        #expect(Array(third[0].readableBytesView) == frame(type: FrameType.windowUpdate, stream: 3, [0, 0, 0, 5]) + frame(type: FrameType.settings, flags: FrameFlag.ack, stream: 0, []))
        #expect(output.isEmpty)
    }

    @Test func aLargePayloadIsHandedOverUncopiedAndNeverRecycled() {
        var output = FrameOutput(allocator: ByteBufferAllocator())
        let payload = ByteBuffer(repeating: 0x61, count: FrameOutput.copyLimit)
        output.data(stream: 1, payload, endStream: true)
        var taken = output.take()
        #expect(taken.count == 2)
        #expect(taken[1] == payload)
        output.recycle(&taken)
        output.rstStream(stream: 1, code: 0)
        let next = output.take()
        #expect(Array(next[0].readableBytesView) == frame(type: FrameType.rstStream, stream: 1, [0, 0, 0, 0]))
        #expect(payload.readableBytesView.allSatisfy { $0 == 0x61 })
    }
}
