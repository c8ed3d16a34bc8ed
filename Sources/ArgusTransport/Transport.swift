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
    /// One stream of a multiplexed connection (an HTTP/2 stream), seen as a byte stream of its own.
    case stream(any MultiplexedStream)

    /// The socket underneath.
    @inlinable
    public var tcp: TCPConnection {
        switch self {
        case .plain(let tcp): return tcp
        case .tls(let tls): return tls.tcp
        case .stream(let stream): return stream.tcp
        }
    }

    @inlinable
    public var loop: IOLoop { tcp.loop }
    @inlinable
    public var isOpen: Bool {
        switch self {
        case .plain(let tcp): return tcp.isOpen
        case .tls(let tls): return tls.tcp.isOpen
        case .stream(let stream): return stream.isOpen
        }
    }
    @inlinable
    public var isWritable: Bool {
        switch self {
        case .plain(let tcp): return tcp.isWritable
        case .tls(let tls): return tls.tcp.isWritable
        case .stream(let stream): return stream.isWritable
        }
    }
    /// A stream of a multiplexed connection: one request, then it ends.
    public var isStream: Bool {
        if case .stream = self { return true }
        return false
    }
    public var remoteAddress: SocketAddress? { tcp.remoteAddress }
    public var localAddress: SocketAddress? { tcp.localAddress }

    /// Whether the stream is usable: open, and for TLS, with TLS still up.
    public var isActive: Bool {
        switch self {
        case .plain(let tcp): return tcp.isOpen
        case .tls(let tls): return tls.tcp.isOpen && tls.isActive
        case .stream(let stream): return stream.isOpen
        }
    }

    /// Sets who gets the stream's events (the TLS layer's delegate, for TLS).
    public func setDelegate(_ delegate: any TCPConnectionDelegate) {
        switch self {
        case .plain(let tcp): tcp.delegate = delegate
        case .tls(let tls): tls.delegate = delegate
        case .stream(let stream): stream.setDelegate(delegate)
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
        case .stream(let stream):
            stream.start()
        }
    }

    @inlinable
    public func write(_ buffer: ByteBuffer) {
        switch self {
        case .plain(let tcp): tcp.write(buffer)
        case .tls(let tls): tls.write(buffer)
        case .stream(let stream): stream.write(buffer)
        }
    }

    @inlinable
    public func flush() {
        switch self {
        case .plain(let tcp): tcp.flush()
        case .tls(let tls): tls.flush()
        case .stream(let stream): stream.flush()
        }
    }

    @inlinable
    public func writeAndFlush(_ buffer: ByteBuffer) {
        write(buffer)
        flush()
    }

    @inlinable
    public func setReading(_ on: Bool) {
        switch self {
        case .plain(let tcp): tcp.setReading(on)
        case .tls(let tls): tls.tcp.setReading(on)
        case .stream(let stream): stream.setReading(on)
        }
    }

    /// Closes at once (for TLS without a close alert).
    public func close() {
        switch self {
        case .plain(let tcp): tcp.close()
        case .tls(let tls): tls.close()
        case .stream(let stream): stream.close()
        }
    }

    /// Flushes, then sends FIN once everything is written; reading goes on.
    public func shutdownOutput() {
        switch self {
        case .plain(let tcp): tcp.shutdownOutput()
        case .tls(let tls): tls.shutdownOutput()
        case .stream(let stream): stream.shutdownOutput()
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

/// One stream of a connection that carries several (an HTTP/2 stream), as a ``Transport`` for
/// the HTTP/1.1 request machinery: it reads the stream's request as HTTP/1.1 bytes and writes the
/// response the same way; the stream's layer translates both. Its delegate sees the events of a
/// connection: reads, writability (the stream's flow-control window and the connection's), and a
/// close when the stream ends. Loop thread only.
public protocol MultiplexedStream: AnyObject {
    /// The connection the stream is carried on (its loop and addresses).
    var tcp: TCPConnection { get }
    /// The stream can still be written to.
    var isOpen: Bool { get }
    /// What is written now goes out without piling up (window open, connection writable).
    var isWritable: Bool { get }
    func setDelegate(_ delegate: any TCPConnectionDelegate)
    /// Delivers what the stream received so far.
    func start()
    func write(_ buffer: ByteBuffer)
    func flush()
    func setReading(_ on: Bool)
    /// Ends the stream at once: a response not complete is cut off (the stream is reset).
    func close()
    /// The response is complete: the stream ends once it is written.
    func shutdownOutput()
}
