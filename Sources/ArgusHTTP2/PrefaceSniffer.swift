import ArgusLoop
import NIOCore

/// The first bytes of a connection to a plain listener flagged `http2`: the HTTP/2 connection
/// preface (`PRI * HTTP/2.0`, h2c with prior knowledge) or anything else (HTTP/1.1), decided at
/// the first byte that differs from the preface, as nginx does. What was read goes with the
/// outcome. A client that sends part of the preface and stops is closed after `timeout`.
/// Loop thread only.
public final class PrefaceSniffer: TCPConnectionDelegate {
    public enum Outcome {
        case http2(ByteBuffer)
        case http1(ByteBuffer)
    }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

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
        timer = tcp.loop.assumeIsolated().scheduleTask(in: timeout) { [tcp] in tcp.close() }
        do {
            try tcp.start()
        } catch {
            tcp.close()
        }
    }

    /// What `bytes` tell so far: nil while they are a proper prefix of the preface.
    static func decide(_ bytes: ByteBuffer) -> Bool? {
        let view = bytes.readableBytesView
        for (byte, expected) in zip(view, preface) where byte != expected { return false }
        return view.count >= preface.count ? true : nil
    }

    public func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        var bytes = bytes
        received.writeBuffer(&bytes)
        guard let isHTTP2 = Self.decide(received), let decided = self.decided else { return }
        self.decided = nil
        timer?.cancel()
        timer = nil
        let first = received
        received = ByteBuffer()
        decided(isHTTP2 ? .http2(first) : .http1(first))
    }

    public func connectionReadEnded(_ connection: TCPConnection) {
        tcp.close()
    }

    public func connectionBecameWritable(_ connection: TCPConnection) {}

    public func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        timer?.cancel()
        timer = nil
        decided = nil
    }
}

@available(*, unavailable)
extension PrefaceSniffer: Sendable {}
