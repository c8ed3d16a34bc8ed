import ArgusLoop
import NIOCore
import NIOSSL

/// A connected byte stream on an ``IOLoop``, whichever way it is secured: plain TCP, or TLS over
/// TCP. Either way the ``TCPConnection`` owns the socket, and the owner of the transport sees the
/// same delegate events (plaintext reads, writability, close); a plain transport adds nothing
/// between them (its hot methods are inlinable: across modules they compile to the connection's).
public enum Transport {
    case plain(TCPConnection)
    case tls(TLSTransport)

    /// The socket underneath.
    @inlinable
    public var tcp: TCPConnection {
        switch self {
        case .plain(let tcp): return tcp
        case .tls(let tls): return tls.tcp
        }
    }

    @inlinable
    public var loop: IOLoop { tcp.loop }
    @inlinable
    public var isOpen: Bool { tcp.isOpen }
    @inlinable
    public var isWritable: Bool { tcp.isWritable }
    public var remoteAddress: SocketAddress? { tcp.remoteAddress }
    public var localAddress: SocketAddress? { tcp.localAddress }

    /// Whether the stream is usable: open, and for TLS, with TLS still up.
    public var isActive: Bool {
        switch self {
        case .plain(let tcp): return tcp.isOpen
        case .tls(let tls): return tls.tcp.isOpen && tls.isActive
        }
    }

    /// Sets who gets the stream's events (the TLS layer's delegate, for TLS).
    public func setDelegate(_ delegate: any TCPConnectionDelegate) {
        switch self {
        case .plain(let tcp): tcp.delegate = delegate
        case .tls(let tls): tls.delegate = delegate
        }
    }

    /// Starts reading (and, for a TLS client, the handshake). Set the delegate first.
    public func start() throws {
        switch self {
        case .plain(let tcp):
            try tcp.start()
        case .tls(let tls):
            try tls.tcp.start()
            try tls.start()
        }
    }

    @inlinable
    public func write(_ buffer: ByteBuffer) {
        switch self {
        case .plain(let tcp): tcp.write(buffer)
        case .tls(let tls): tls.write(buffer)
        }
    }

    @inlinable
    public func flush() {
        switch self {
        case .plain(let tcp): tcp.flush()
        case .tls(let tls): tls.flush()
        }
    }

    @inlinable
    public func writeAndFlush(_ buffer: ByteBuffer) {
        write(buffer)
        flush()
    }

    @inlinable
    public func setReading(_ on: Bool) {
        tcp.setReading(on)
    }

    /// Closes at once (for TLS without a close alert).
    public func close() {
        switch self {
        case .plain(let tcp): tcp.close()
        case .tls(let tls): tls.close()
        }
    }

    /// Flushes, then sends FIN once everything is written; reading goes on.
    public func shutdownOutput() {
        switch self {
        case .plain(let tcp): tcp.shutdownOutput()
        case .tls(let tls): tls.shutdownOutput()
        }
    }

    /// A plain transport over `tcp`, or TLS with `context` in `role`.
    /// The connection is closed when TLS can not be set up (an SNI name NIOSSL refuses, say).
    public static func over(_ tcp: TCPConnection, tls: (context: NIOSSLContext, role: TLSTransport.Role)?) throws -> Transport {
        guard let tls else { return .plain(tcp) }
        do {
            return .tls(try TLSTransport(context: tls.context, role: tls.role, over: tcp))
        } catch {
            tcp.close()
            throw error
        }
    }
}
