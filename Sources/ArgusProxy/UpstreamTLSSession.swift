import ArgusLoop
import NIOCore
import NIOEmbedded
import NIOSSL

/// TLS to an `https` upstream over a ``TCPConnection``: NIOSSL's client handler (BoringSSL) runs
/// in an `EmbeddedChannel` that never touches a socket. Ciphertext from the connection is fed to
/// it, the plaintext it decrypts is collected, and what it writes (handshake, records, alerts) is
/// passed to the connection. Loop thread only, like the connection.
///
/// The handshake starts at once and runs as the request is written (the request waits in NIOSSL's
/// buffer until it completes); a failed handshake closes the session, which closes the connection.
final class UpstreamTLSSession {
    private let channel: EmbeddedChannel
    private let sink: PlaintextSink
    private let tcp: TCPConnection

    init(context: NIOSSLContext, serverName: String?, over tcp: TCPConnection) throws {
        self.tcp = tcp
        sink = PlaintextSink()
        channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
        try channel.pipeline.syncOperations.addHandler(sink)
        // An embedded channel "connects" at once: NIOSSL starts the handshake (its ClientHello is sent by `pump`).
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0), promise: nil)
        pump()
    }

    /// Whether TLS is still up (false after a failed handshake or a close alert).
    var isActive: Bool { !abandoned && channel.isActive }

    func write(_ plaintext: ByteBuffer) {
        channel.write(plaintext, promise: nil)
    }

    func flush() {
        channel.flush()
        pump()
    }

    /// Decrypts `ciphertext` and returns the plaintext it completed, in order. When TLS closed
    /// meanwhile (a close alert), ``isActive`` is false: the caller handles the plaintext first,
    /// then closes the connection.
    func received(_ ciphertext: ByteBuffer) -> [ByteBuffer] {
        channel.pipeline.fireChannelRead(ciphertext)
        channel.pipeline.fireChannelReadComplete()
        pump(closing: false)
        return sink.take()
    }

    /// Abandons the session without a close alert (the connection is gone, or being closed anyway;
    /// NIOSSL fails what it buffered).
    ///
    /// NIOSSL is told the transport went away first, so that it is closed when the channel
    /// closes: closing an active session would send close_notify and wait for the peer's, or for
    /// a shutdown timer on the embedded loop, whose clock never moves. Nothing here waits
    /// (`EmbeddedChannel.finish` would block the event loop's thread on that close).
    func close() {
        guard !abandoned else { return }
        abandoned = true
        if channel.isActive { channel.pipeline.fireChannelInactive() }
        channel.close(promise: nil)
        // A timer NIOSSL may have set (its close_notify timeout, after the peer's alert) runs now:
        // an embedded loop must not be freed with tasks still scheduled.
        channel.embeddedEventLoop.advanceTime(by: .hours(24))
    }

    private var abandoned = false

    /// Runs what NIOSSL queued on its loop, passes its output to the connection, and closes the
    /// connection once TLS is closed.
    private func pump(closing: Bool = true) {
        channel.embeddedEventLoop.run()
        var wrote = false
        while let bytes = try? channel.readOutbound(as: ByteBuffer.self) {
            tcp.write(bytes)
            wrote = true
        }
        if wrote { tcp.flush() }
        if closing && !channel.isActive { tcp.close() }
    }
}

/// The end of the embedded pipeline: keeps the plaintext NIOSSL delivers, drops its errors (the
/// close that follows one is what the connection reports).
private final class PlaintextSink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var pending: [ByteBuffer] = []

    func take() -> [ByteBuffer] {
        let taken = pending
        pending = []
        return taken
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
