import ArgusLoop
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS

/// TLS over a ``TCPConnection``, either side of it: NIOSSL's handler (BoringSSL) runs in an
/// `EmbeddedChannel` that never touches a socket. Ciphertext from the connection is fed to it,
/// the plaintext it decrypts goes to the delegate, and what it writes (handshake, records,
/// alerts) goes to the connection. The connection stays the only owner of the socket; this sits
/// between it and the delegate, which sees the same events it would see for plain TCP. Loop
/// thread only, like the connection.
///
/// The handshake starts at once (a client's) or with the first bytes (a server's); plaintext
/// written before it completes waits in NIOSSL's buffer. A failed handshake or a bad record
/// closes the connection, and the delegate's `connectionClosed` gets NIOSSL's error (a failed
/// verification says so), not a bare close.
public final class TLSTransport: TCPConnectionDelegate {
    public enum Role {
        /// The client: `serverName` for SNI and verification (nil for an IP address).
        case client(serverName: String?)
        case server
    }

    public let tcp: TCPConnection
    /// Gets the plaintext and the connection's events.
    public var delegate: (any TCPConnectionDelegate)?
    private let channel: EmbeddedChannel
    private let sink: TLSEvents
    private var abandoned = false
    private var failureBeforeClose: (any Error)?
    /// The array the plaintext of a read is delivered from, kept between reads (no array per read).
    private var plaintextBatch: [ByteBuffer] = []
    private let isServer: Bool
    /// The cipher suite the server's ServerHello chose (a server's own first flight, read as it
    /// goes out: NIOSSL does not expose the negotiated suite).
    public private(set) var cipherSuite: UInt16?

    /// Takes `tcp` over (as its delegate); start it afterwards.
    public init(context: NIOSSLContext, role: Role, over tcp: TCPConnection) throws {
        self.tcp = tcp
        sink = TLSEvents()
        channel = EmbeddedChannel()
        switch role {
        case .client: isServer = false
        case .server: isServer = true
        }
        switch role {
        case .client(let serverName):
            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
        case .server:
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }
        try channel.pipeline.syncOperations.addHandler(sink)
        tcp.delegate = self
    }

    /// Starts the handshake (a client sends its ClientHello now).
    public func start() throws {
        // An embedded channel "connects" at once: NIOSSL starts a client's handshake.
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0), promise: nil)
        pump()
        closeIfEnded()
    }

    /// Whether TLS is still up (false after a failed handshake or a close alert).
    public var isActive: Bool { !abandoned && channel.isActive }
    /// The handshake completed.
    public var handshakeCompleted: Bool { sink.handshakeCompleted }
    /// The protocol ALPN agreed on, once the handshake completed.
    public var negotiatedProtocol: String? { sink.negotiatedProtocol }
    /// The protocol version agreed on, once the handshake completed.
    public var version: TLSVersion? {
        if let server = try? channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) { return server.tlsVersion }
        return (try? channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self))?.tlsVersion
    }
    /// What ended TLS, if it was an error (a failed handshake or verification, a bad record).
    public var failure: (any Error)? { abandoned ? failureBeforeClose : sink.failure }

    public func write(_ plaintext: ByteBuffer) {
        channel.write(plaintext, promise: nil)
    }

    public func flush() {
        channel.flush()
        pump()
        closeIfEnded()
    }

    /// TLS ended while writing (a failed handshake): the connection closes.
    private func closeIfEnded() {
        if !abandoned && !channel.isActive { close() }
    }

    /// Abandons the session without a close alert (the connection is gone, or being closed
    /// anyway; NIOSSL fails what it buffered), then closes the connection.
    ///
    /// NIOSSL is told the transport went away first, so that it is closed when the channel
    /// closes: closing an active session would send close_notify and wait for the peer's, or for
    /// a shutdown timer on the embedded loop, whose clock never moves. Nothing here waits
    /// (`EmbeddedChannel.finish` would block the event loop's thread on that close).
    public func close() {
        abandon()
        tcp.close()
    }

    /// Writes what is pending, then shuts the connection's write side (no close_notify: the
    /// connection is about to close, as nginx's lingering close does after its own).
    public func shutdownOutput() {
        channel.flush()
        pump()
        tcp.shutdownOutput()
    }

    private func abandon() {
        guard !abandoned else { return }
        abandoned = true
        // What went wrong before (the close itself makes NIOSSL complain of an unclean shutdown).
        failureBeforeClose = sink.failure
        if channel.isActive { channel.pipeline.fireChannelInactive() }
        channel.close(promise: nil)
        // A timer NIOSSL may have set (its close_notify timeout, after the peer's alert) runs now:
        // an embedded loop must not be freed with tasks still scheduled.
        channel.embeddedEventLoop.advanceTime(by: .hours(24))
    }

    /// Runs what NIOSSL queued on its loop and passes its output to the connection.
    private func pump() {
        channel.embeddedEventLoop.run()
        var wrote = false
        while let bytes = try? channel.readOutbound(as: ByteBuffer.self) {
            if isServer && cipherSuite == nil { cipherSuite = TLSNames.serverHelloCipher(bytes) ?? 0 }
            tcp.write(bytes)
            wrote = true
        }
        if wrote { tcp.flush() }
    }

    // MARK: - The connection's events, as plaintext

    public func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        guard !abandoned else { return }
        channel.pipeline.fireChannelRead(bytes)
        channel.pipeline.fireChannelReadComplete()
        pump()
        var batch = plaintextBatch
        plaintextBatch = []
        sink.swapPlaintext(&batch)
        for plaintext in batch where !abandoned {
            delegate?.connection(tcp, read: plaintext)
        }
        batch.removeAll(keepingCapacity: true)
        plaintextBatch = batch
        // TLS closed (an alert, a failed handshake): the plaintext before it was delivered first.
        if !abandoned && !channel.isActive {
            close()
        } else if !abandoned {
            delegate?.connectionReadComplete(tcp)
        }
    }

    public func connectionReadComplete(_ connection: TCPConnection) {}

    public func connectionReadEnded(_ connection: TCPConnection) {
        delegate?.connectionReadEnded(tcp)
    }

    public func connectionBecameWritable(_ connection: TCPConnection) {
        delegate?.connectionBecameWritable(tcp)
    }

    public func connectionOutputShut(_ connection: TCPConnection) {
        delegate?.connectionOutputShut(tcp)
    }

    public func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        abandon()
        let delegate = self.delegate
        self.delegate = nil
        delegate?.connectionClosed(tcp, error: failureBeforeClose ?? error)
    }
}

@available(*, unavailable)
extension TLSTransport: Sendable {}

/// The end of the embedded pipeline: keeps the plaintext NIOSSL delivers, the handshake's
/// outcome and the first error.
private final class TLSEvents: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var pending: [ByteBuffer] = []
    private(set) var failure: (any Error)?
    private(set) var handshakeCompleted = false
    private(set) var negotiatedProtocol: String?

    /// Exchanges the plaintext delivered so far for `batch` (empty, its capacity kept for the next read).
    func swapPlaintext(_ batch: inout [ByteBuffer]) {
        swap(&batch, &pending)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
            handshakeCompleted = true
            negotiatedProtocol = negotiated
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failure == nil { failure = error }
    }
}
