import ArgusLoop
import NIOCore

/// Reads a connection's PROXY protocol header on a listener flagged `proxy_protocol` (nginx and
/// Kong require it there: a connection without one is closed), then hands the connection on,
/// started, with the client's address the balancer gave and the bytes that followed the header.
/// Bounded by `timeout` (the header timeout). Loop thread only.
public final class ProxyProtocolReader: TCPConnectionDelegate {
    public enum Outcome {
        /// The header was read: `source` is the client's address (nil: the peer's stands).
        case read(source: SocketAddress?, first: ByteBuffer)
        /// No valid header: the connection is closed.
        case refused(String)
    }

    private let tcp: TCPConnection
    private var decided: ((Outcome) -> Void)?
    private var received = ByteBuffer()
    private var timer: Scheduled<Void>?

    public init(tcp: TCPConnection, decided: @escaping (Outcome) -> Void) {
        self.tcp = tcp
        self.decided = decided
    }

    public func start(timeout: TimeAmount) {
        tcp.delegate = self
        timer = tcp.loop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in self?.refuse("no PROXY protocol header in time") }
        do {
            try tcp.start()
        } catch {
            refuse("\(error)")
        }
    }

    public func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        guard decided != nil else { return }
        var bytes = bytes
        received.writeBuffer(&bytes)
        switch ProxyProtocolHeader.parse(received) {
        case .needMore:
            return
        case .invalid(let why):
            refuse(why)
        case .header(let source, let length):
            received.moveReaderIndex(forwardBy: length)
            let first = received
            received = ByteBuffer()
            timer?.cancel()
            timer = nil
            let address = source.flatMap { try? SocketAddress(ipAddress: $0.ip, port: $0.port) }
            decided.take()?(.read(source: address, first: first))
        }
    }

    private func refuse(_ why: String) {
        timer?.cancel()
        timer = nil
        guard let decided = decided.take() else { return }
        tcp.close()
        decided(.refused(why))
    }

    public func connectionReadEnded(_ connection: TCPConnection) {
        refuse("closed before its PROXY protocol header")
    }

    public func connectionBecameWritable(_ connection: TCPConnection) {}

    public func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        timer?.cancel()
        timer = nil
        decided = nil
    }
}

@available(*, unavailable)
extension ProxyProtocolReader: Sendable {}
