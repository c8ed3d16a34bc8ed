import ArgusLoop
import Foundation
import Glibc
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import Testing

@testable import ArgusTransport

/// Collects what a transport delivers: plaintext, and how it closed.
final class Collector: TCPConnectionDelegate, @unchecked Sendable {
    // Touched on the loop's thread; read by the test after `closed` or `received` completes.
    private let lock = NIOLock()
    private var bytes = ""
    private var expected: Int
    let received: EventLoopPromise<String>
    let closed: EventLoopPromise<(any Error)?>
    /// Echo what arrives (a server).
    var echo: Transport?

    init(loop: IOLoop, expecting count: Int) {
        expected = count
        received = loop.makePromise()
        closed = loop.makePromise()
    }

    func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        if let echo { echo.writeAndFlush(bytes) }
        let text = lock.withLock { () -> String? in
            self.bytes += String(buffer: bytes)
            return self.bytes.utf8.count >= expected ? self.bytes : nil
        }
        if let text { received.succeed(text) }
    }

    func connectionReadEnded(_ connection: TCPConnection) { connection.close() }
    func connectionBecameWritable(_ connection: TCPConnection) {}
    func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        received.fail(error ?? EventLoopError.shutdown)
        closed.succeed(error)
    }
}

/// Runs blocking work (openssl as a subprocess) on a thread of its own: on the cooperative pool it
/// would hold one of this machine's two threads, and stall every other test's continuations.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

@Suite("TLS over Argus's own transport", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
struct TLSTransportTests {
    /// A self-signed certificate for `localhost`, made by openssl.
    static func certificate() throws -> (directory: String, certificate: NIOSSLCertificate, key: NIOSSLPrivateKey) {
        let directory = NSTemporaryDirectory() + "argus-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let status = system(
            "/usr/bin/openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \(directory)/key.pem "
                + "-out \(directory)/cert.pem -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1")
        struct OpenSSLFailed: Error { let status: Int32 }
        guard status == 0 else { throw OpenSSLFailed(status: status) }
        return (directory, try NIOSSLCertificate.fromPEMFile(directory + "/cert.pem")[0], try NIOSSLPrivateKey(file: directory + "/key.pem", format: .pem))
    }

    /// A TLS server on `loop` that echoes what it reads; its port.
    static func echoServer(on loop: IOLoop, context: NIOSSLContext) async throws -> (TCPListener, Int) {
        let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop) { fd in
            let tcp = TCPConnection(fd: fd, loop: loop)
            guard let transport = try? Transport.over(tcp, tls: (context, .server)) else { return }
            let echo = Collector(loop: loop, expecting: .max)
            echo.echo = transport
            transport.setDelegate(echo)
            try? transport.start()
        }
        try await loop.submit { try listener.start() }.get()
        return (listener, listener.port)
    }

    static func serverContext(_ cert: NIOSSLCertificate, _ key: NIOSSLPrivateKey) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(cert)], privateKey: .privateKey(key))
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    @Test func aServerAndAClientSpeakTLSOverTCPConnections() async throws {
        let (_, cert, key) = try await offThePool { try Self.certificate() }
        let loop = IOLoop(name: "tls-test")
        defer { Task { try? await loop.shutdownGracefully() } }
        let (listener, port) = try await Self.echoServer(on: loop, context: try Self.serverContext(cert, key))
        defer { Task { await loop.perform({ listener.close() }, ifStopped: ()) } }

        var client = TLSConfiguration.makeClientConfiguration()
        client.trustRoots = .certificates([cert])
        client.applicationProtocols = ["http/1.1"]
        let clientContext = try NIOSSLContext(configuration: client)
        let collector = Collector(loop: loop, expecting: 11)
        let transport = try await TCPConnector.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port), on: loop, timeout: .seconds(5))
            .flatMapThrowing { fd -> NIOLoopBound<Transport> in
                let transport = try Transport.over(TCPConnection(fd: fd, loop: loop), tls: (clientContext, .client(serverName: "localhost")))
                transport.setDelegate(collector)
                try transport.start()
                transport.writeAndFlush(ByteBuffer(string: "hello "))
                transport.writeAndFlush(ByteBuffer(string: "world"))
                return NIOLoopBound(transport, eventLoop: loop)
            }.get()
        #expect(try await collector.received.futureResult.get() == "hello world")
        let (completed, alpn) = try await loop.submit { () -> (Bool, String?) in
            guard case .tls(let tls) = transport.value else { return (false, nil) }
            return (tls.handshakeCompleted, tls.negotiatedProtocol)
        }.get()
        #expect(completed && alpn == "http/1.1")
        try await loop.submit { transport.value.close() }.get()
        #expect(try await collector.closed.futureResult.get() == nil)
    }

    @Test func openSSLsClientTalksToTheServerSide() async throws {
        let (directory, cert, key) = try await offThePool { try Self.certificate() }
        let loop = IOLoop(name: "tls-test")
        defer { Task { try? await loop.shutdownGracefully() } }
        let (listener, port) = try await Self.echoServer(on: loop, context: try Self.serverContext(cert, key))
        defer { Task { await loop.perform({ listener.close() }, ifStopped: ()) } }
        let out = directory + "/out.txt"
        // a real TLS client: SNI, ALPN, verification against the certificate; it prints what comes back
        // (through python, which clears the signal mask the test process passes on: `timeout`'s
        // alarm must be able to stop a client that hangs)
        let command =
            "/usr/bin/python3 -c 'import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])' "
                + "sh -c \"(printf 'ping over tls'; sleep 1) | timeout -s KILL 10 /usr/bin/openssl s_client -connect 127.0.0.1:\(port) -servername localhost "
                + "-alpn http/1.1 -CAfile \(directory)/cert.pem -verify_return_error -quiet -no_ign_eof\" > \(out) 2>\(directory)/err.txt"
        let status = try await offThePool { system(command) }
        #expect(status == 0, "\((try? String(contentsOfFile: directory + "/err.txt", encoding: .utf8)) ?? "")")
        #expect((try? String(contentsOfFile: out, encoding: .utf8)) == "ping over tls")
    }

    @Test func aCertificateThatDoesNotVerifyIsReportedAsSuch() async throws {
        let (_, cert, key) = try await offThePool { try Self.certificate() }
        let loop = IOLoop(name: "tls-test")
        defer { Task { try? await loop.shutdownGracefully() } }
        let (listener, port) = try await Self.echoServer(on: loop, context: try Self.serverContext(cert, key))
        defer { Task { await loop.perform({ listener.close() }, ifStopped: ()) } }
        // the system's roots do not know a self-signed certificate
        let context = try TLSClientContexts().context(verify: true, trust: nil)
        let collector = Collector(loop: loop, expecting: 1)
        _ = try await TCPConnector.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port), on: loop, timeout: .seconds(5))
            .flatMapThrowing { fd in
                let transport = try Transport.over(TCPConnection(fd: fd, loop: loop), tls: (context, .client(serverName: "localhost")))
                transport.setDelegate(collector)
                try transport.start()
                transport.writeAndFlush(ByteBuffer(string: "x"))
            }.get()
        let error = try #require(try await collector.closed.futureResult.get())
        let failure = try #require(TLSFailure(error))
        #expect(failure.isVerification, "\(failure)")
    }

    @Test func garbageInsteadOfAClientHelloClosesWithATLSError() async throws {
        let (_, cert, key) = try await offThePool { try Self.certificate() }
        let loop = IOLoop(name: "tls-test")
        defer { Task { try? await loop.shutdownGracefully() } }
        let context = try Self.serverContext(cert, key)
        let closed = loop.makePromise(of: (any Error)?.self)
        let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop) { fd in
            let collector = Collector(loop: loop, expecting: 1)
            collector.closed.futureResult.cascade(to: closed)
            guard let transport = try? Transport.over(TCPConnection(fd: fd, loop: loop), tls: (context, .server)) else { return }
            transport.setDelegate(collector)
            try? transport.start()
        }
        try await loop.submit { try listener.start() }.get()
        defer { Task { await loop.perform({ listener.close() }, ifStopped: ()) } }
        // a plain HTTP request to the TLS port
        let fd = try await TCPConnector.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: listener.port), on: loop, timeout: .seconds(5)).get()
        let plain = Collector(loop: loop, expecting: .max)
        try await loop.submit {
            let tcp = TCPConnection(fd: fd, loop: loop)
            tcp.delegate = plain
            try tcp.start()
            tcp.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        }.get()
        let error = try #require(try await closed.futureResult.get())
        #expect(TLSFailure(error) != nil, "\(error)")
        _ = try await plain.closed.futureResult.get()
    }

    @Test func aTLSSetupThatFailsClosesTheSocket() async throws {
        let loop = IOLoop(name: "tls-test")
        defer { Task { try? await loop.shutdownGracefully() } }
        var fds: [Int32] = [0, 0]
        // (close-on-exec: an openssl another test starts meanwhile must not inherit the socket and keep it open)
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
        defer { _ = Glibc.close(fds[1]) }
        let fd = fds[0]
        let context = try TLSClientContexts().context(verify: false, trust: nil)
        let failed = try await loop.submit { () -> Bool in
            // NIOSSL refuses an SNI name longer than 255 bytes
            (try? Transport.over(TCPConnection(fd: fd, loop: loop), tls: (context, .client(serverName: String(repeating: "a", count: 300))))) == nil
        }.get()
        #expect(failed)
        // the peer sees the end of the stream: the socket was closed, not leaked
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        var byte: UInt8 = 0
        #expect(read(fds[1], &byte, 1) == 0, "errno \(errno)")
    }
}
