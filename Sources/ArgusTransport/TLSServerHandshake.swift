import ArgusLoop
import NIOCore
import NIOSSL

/// How a TLS handshake with a client ended, when it did not complete (a metric label each).
public enum TLSHandshakeFailure: String, Sendable, CaseIterable {
    /// The client sent no complete handshake in time.
    case timeout
    /// Plain HTTP on the TLS port (answered 400 by the caller).
    case plainHTTP = "plain_http"
    /// Bytes that are not a TLS ClientHello.
    case notTLS = "not_tls"
    /// No certificate for the name asked for, and no default one.
    case noCertificate = "no_certificate"
    /// BoringSSL refused the handshake: no common version, cipher or curve, a bad message.
    case protocolError = "protocol_error"
    /// The client closed (or reset) before the handshake completed.
    case clientClosed = "client_closed"
}

/// The facts of an established TLS session with a client: what routing, logs and events use.
public struct TLSSessionFacts: Sendable, Equatable {
    /// The SNI name the client sent (lowercased), if any.
    public var serverName: String?
    /// `TLSv1.2`, `TLSv1.3`.
    public var version: String
    /// OpenSSL's name of the cipher suite.
    public var cipher: String
    /// The ALPN protocol agreed on, if any.
    public var alpn: String?
    /// The certificate served (its entity id, or `default`).
    public var certificateID: String

    public init(serverName: String?, version: String, cipher: String, alpn: String?, certificateID: String) {
        self.serverName = serverName
        self.version = version
        self.cipher = cipher
        self.alpn = alpn
        self.certificateID = certificateID
    }
}

/// A connection to a TLS port until its handshake completes: reads the ClientHello itself
/// (``ClientHelloReader``), picks the certificate for its server name, then lets BoringSSL run
/// the handshake over the bytes read so far, all within one deadline. What it ends with goes to
/// `outcome` once: the established session (the caller takes the ``TLSTransport`` over, with any
/// plaintext that came with the client's last handshake flight), plain HTTP (the caller answers
/// it on the bare connection), or a failure (the connection is already closed). Loop thread only.
public final class TLSServerHandshake: TCPConnectionDelegate {
    public enum Outcome {
        case established(TLSTransport, TLSSessionFacts)
        case plainHTTP(TCPConnection, ByteBuffer)
        case failed(TLSHandshakeFailure, detail: String)
    }

    /// The certificate for a client's ClientHello and the context to serve it with (its key
    /// type, its ALPN protocols); nil when there is none to serve.
    public typealias Select = (ClientHello) -> (certificate: ServerCertificate, context: NIOSSLContext)?

    private let tcp: TCPConnection
    private let select: Select
    private var outcome: ((Outcome) -> Void)?
    private var received = ByteBuffer()
    private let reader = ClientHelloReader()
    private var tls: TLSTransport?
    private var facts: TLSSessionFacts?
    private var timer: Scheduled<Void>?

    public init(tcp: TCPConnection, select: @escaping Select, outcome: @escaping (Outcome) -> Void) {
        self.tcp = tcp
        self.select = select
        self.outcome = outcome
    }

    /// Starts reading, bounded by `timeout` for the whole handshake.
    public func start(timeout: TimeAmount) {
        tcp.delegate = self
        timer = tcp.loop.assumeIsolated().scheduleTask(in: timeout) { self.fail(.timeout, "no complete handshake within \(timeout)") }
        do {
            try tcp.start()
        } catch {
            fail(.clientClosed, "\(error)")
        }
    }

    private func finish(_ result: Outcome) {
        timer?.cancel()
        timer = nil
        guard let outcome = self.outcome else { return }
        self.outcome = nil
        outcome(result)
    }

    private func fail(_ failure: TLSHandshakeFailure, _ detail: String) {
        guard outcome != nil else { return }
        let tls = self.tls
        self.tls = nil
        finish(.failed(failure, detail: detail))
        if let tls { tls.close() } else { tcp.close() }
    }

    // MARK: - Before the ClientHello: the connection's own bytes

    public func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        if let tls {
            // The session is up: this is plaintext that came with the client's Finished.
            handOver(tls, first: bytes)
            return
        }
        var bytes = bytes
        received.writeBuffer(&bytes)
        switch reader.read(received) {
        case .needMore:
            if received.readableBytes > ClientHelloReader.maxHelloLength + 1024 { fail(.notTLS, "ClientHello too large") }
        case .plainHTTP:
            connection.setReading(false)
            let head = received
            received = ByteBuffer()
            finish(.plainHTTP(connection, head))
        case .notTLS(let why):
            fail(.notTLS, why)
        case .hello(let hello):
            guard let (certificate, context) = select(hello) else {
                fail(.noCertificate, "no certificate for server name '\(hello.serverName ?? "")'")
                return
            }
            startTLS(hello, certificate, context)
        }
    }

    private func startTLS(_ hello: ClientHello, _ certificate: ServerCertificate, _ context: NIOSSLContext) {
        let session: TLSTransport
        do {
            session = try TLSTransport(context: context, role: .server, over: tcp)
            try session.start()
        } catch {
            fail(.protocolError, "\(error)")
            return
        }
        tls = session
        session.delegate = self
        facts = TLSSessionFacts(serverName: hello.serverName, version: "", cipher: "", alpn: nil, certificateID: certificate.id)
        let hello = received
        received = ByteBuffer()
        // BoringSSL reads the ClientHello (and whatever followed it) as if it had just arrived.
        session.connection(tcp, read: hello)
    }

    public func connectionReadComplete(_ connection: TCPConnection) {
        if let tls, tls.handshakeCompleted { handOver(tls, first: nil) }
    }

    private func handOver(_ tls: TLSTransport, first plaintext: ByteBuffer?) {
        guard outcome != nil, var facts else {
            // handed over already: the new delegate gets what follows
            if let plaintext { tls.delegate?.connection(tls.tcp, read: plaintext) }
            return
        }
        facts.version = TLSNames.version(tls.version)
        facts.cipher = TLSNames.cipher(tls.cipherSuite)
        facts.alpn = tls.negotiatedProtocol
        self.tls = nil
        finish(.established(tls, facts))
        if let plaintext { tls.delegate?.connection(tls.tcp, read: plaintext) }
    }

    public func connectionReadEnded(_ connection: TCPConnection) {
        fail(.clientClosed, "the client closed during the handshake")
    }

    public func connectionBecameWritable(_ connection: TCPConnection) {}

    public func connectionOutputShut(_ connection: TCPConnection) {}

    public func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        guard outcome != nil else { return }
        tls = nil
        timer?.cancel()
        timer = nil
        let failure: TLSHandshakeFailure
        switch error {
        case NIOSSLError.uncleanShutdown?, nil: failure = .clientClosed
        case is NIOSSLError?, is BoringSSLError?: failure = .protocolError
        default: failure = .clientClosed
        }
        finish(.failed(failure, detail: error.map { "\($0)" } ?? "closed"))
    }
}

@available(*, unavailable)
extension TLSServerHandshake: Sendable {}
