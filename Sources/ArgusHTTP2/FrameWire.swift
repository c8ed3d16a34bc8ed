import ArgusTransport
import NIOCore
import NIOEmbedded
import NIOHTTP2

/// SwiftNIO's HTTP/2 handler in an `EmbeddedChannel` over a connection's transport: the bytes
/// read go in, the frames and events it passes on come out (``HTTP2Events``), and what it writes
/// goes to the transport in one write per read handled or per loop round. The upstream sessions
/// (``HTTP2ClientSession``) run on it; the client side has its own machine
/// (``ServerConnectionMachine``). Loop thread only.
final class FrameWire {
    let transport: Transport
    let channel = EmbeddedChannel()
    let events = HTTP2Events()
    /// A read is being handled: writes wait for its end (one flush for all it caused).
    private(set) var processing = false
    private(set) var closed = false
    private var flushScheduled = false
    /// Called after each flush (streams waiting for writability may go on).
    var flushed: () -> Void = {}

    init(transport: Transport, handler: NIOHTTP2Handler) throws {
        self.transport = transport
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.pipeline.syncOperations.addHandler(events)
    }

    /// The embedded channel "connects" at once: the handler sends its preface and SETTINGS.
    func activate() {
        if let address = try? SocketAddress(ipAddress: "127.0.0.1", port: 0) { channel.connect(to: address, promise: nil) }
    }

    /// Hands `bytes` to the handler; returns what it passed on.
    func read(_ bytes: ByteBuffer) -> [HTTP2Events.Event] {
        processing = true
        channel.pipeline.fireChannelRead(bytes)
        channel.pipeline.fireChannelReadComplete()
        return events.take()
    }

    /// The read is handled: what it caused is written.
    func readHandled() {
        processing = false
        flush()
    }

    func send(_ frame: HTTP2Frame) {
        guard !closed else { return }
        channel.write(frame, promise: nil)
    }

    /// Flushes at the end of the loop's current round (or of the read being handled): the
    /// streams that end in one round share one write.
    func scheduleFlush() {
        guard !processing, !flushScheduled, !closed else { return }
        flushScheduled = true
        transport.loop.assumeIsolated().execute {
            self.flushScheduled = false
            self.flush()
        }
    }

    /// Writes what the handler emitted, unless a read is being handled (it flushes once at its end).
    func flush() {
        guard !processing, !closed else { return }
        channel.flush()
        var wrote = false
        while let out = try? channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let bytes) = out {
                transport.write(bytes)
                wrote = true
            }
        }
        if wrote { transport.flush() }
        flushed()
    }

    /// The handler closed its side (it sent GOAWAY for a connection error).
    var handlerClosed: Bool { !channel.isActive }

    /// The connection closed: the handler is let go of.
    func close() {
        guard !closed else { return }
        closed = true
        channel.close(promise: nil)
        channel.embeddedEventLoop.run()
    }
}

@available(*, unavailable)
extension FrameWire: Sendable {}
