import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Testing

import ArgusApp
import ArgusTransport

/// TLS at the edge through a whole gateway with two workers: handshakes on both loops, the
/// certificate picked by SNI (and the default one otherwise), requests over the TLS connection
/// carrying `X-Forwarded-Proto: https`, a certificate replaced by a reload while a connection is
/// open, plain HTTP on the TLS port, and the handshake counters.
@Suite("TLS listeners")
struct EdgeTLSTests {
    static func fixture(_ name: String) -> String {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: tests.appendingPathComponent("Fixtures/tls/\(name)"), encoding: .utf8)) ?? ""
    }

    static func indent(_ pem: String) -> String { pem.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n") }

    static func yaml(backend: Int, pair: String) -> String {
        """
        _format_version: "3.0"
        services:
          - name: backend
            url: http://127.0.0.1:\(backend)
            routes: [{name: main, paths: ["/"]}]
        certificates:
          - cert: |
        \(indent(fixture("server-\(pair).pem")))
            key: |
        \(indent(fixture("server-\(pair).key")))
            snis: [{name: a.test}]
        """
    }

    /// A TLS client: the certificate the server presented and the response to one request.
    final class Client: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let received = NIOLockedValueBox("")
        let channel: any Channel

        init(port: Int, serverName: String?, group: any EventLoopGroup) async throws {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            let context = try NIOSSLContext(configuration: configuration)
            let holder = NIOLockedValueBox<Client?>(nil)
            channel = try await ClientBootstrap(group: group).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                    try channel.pipeline.syncOperations.addHandler(Relay(holder))
                }
            }.connect(host: "127.0.0.1", port: port).get()
            holder.withLockedValue { $0 = self }
        }

        private final class Relay: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            let holder: NIOLockedValueBox<Client?>
            init(_ holder: NIOLockedValueBox<Client?>) { self.holder = holder }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                let text = String(buffer: unwrapInboundIn(data))
                holder.withLockedValue { $0 }?.received.withLockedValue { $0 += text }
            }
        }

        /// Sends a request and waits for a whole response (Content-Length framed).
        func get(_ path: String) async throws -> String {
            received.withLockedValue { $0 = "" }
            try await channel.writeAndFlush(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: a.test\r\n\r\n")).get()
            for _ in 0..<500 {
                let text = received.withLockedValue { $0 }
                if let end = text.range(of: "\r\n\r\n"),
                   let length = text[..<end.lowerBound].split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") })
                    .flatMap({ Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) }),
                   text[end.upperBound...].utf8.count >= length {
                    return text
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            return received.withLockedValue { $0 }
        }

        /// Which of the fixtures' certificates the server presented ("rsa", "ecdsa"), or "default"
        /// (call after a request: the handshake is done).
        func servedCertificate() async throws -> String {
            let peer = try await channel.pipeline.handler(type: NIOSSLClientHandler.self).map { $0.peerCertificate }.get()
            for pair in ["rsa", "ecdsa"] where try NIOSSLCertificate.fromPEMBytes(Array(EdgeTLSTests.fixture("server-\(pair).pem").utf8)).first == peer {
                return pair
            }
            return peer == nil ? "none" : "default"
        }

        func close() async { try? await channel.close() }
    }

    @Test func handshakesOnBothLoopsPickTheCertificateBySNIAndSurviveAReload() async throws {
        let backend = RawBackend { head in
            let proto = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-forwarded-proto:") } ?? "none"
            let body = String(proto)
            return .init(bytes: "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }
        let backendPort = try await backend.start()
        let gw = try await GatewayHarness(yaml: Self.yaml(backend: backendPort, pair: "rsa")) { settings in
            settings.workers = 2
            settings.proxyListeners.append(ListenAddress(host: "127.0.0.1", port: 0, ssl: true))
        }
        let tlsPort = try #require(gw.tlsPort)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // concurrent handshakes land on both workers
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for i in 0..<8 {
                tasks.addTask {
                    let client = try await Client(port: tlsPort, serverName: i % 2 == 0 ? "a.test" : "other.test", group: group)
                    #expect(try await client.get("/x").hasSuffix("X-Forwarded-Proto: https"))
                    #expect(try await client.servedCertificate() == (i % 2 == 0 ? "rsa" : "default"))
                    await client.close()
                }
            }
            try await tasks.waitForAll()
        }
        // a reload replaces a.test's certificate: new handshakes get the new one, an open connection keeps working
        let open = try await Client(port: tlsPort, serverName: "a.test", group: group)
        #expect(try await open.get("/before").contains("200 OK"))
        try Self.yaml(backend: backendPort, pair: "ecdsa").write(toFile: gw.configPath, atomically: true, encoding: .utf8)
        #expect(gw.gateway.reload())
        let fresh = try await Client(port: tlsPort, serverName: "a.test", group: group)
        #expect(try await fresh.get("/new").contains("200 OK"))
        #expect(try await fresh.servedCertificate() == "ecdsa")
        #expect(try await open.get("/after").contains("200 OK"))
        await fresh.close()
        await open.close()
        // plain HTTP on the TLS port
        let plain = try #require(try await gw.request("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", port: tlsPort))
        #expect(plain.status == 400)
        #expect(plain.bodyString.contains("The plain HTTP request was sent to HTTPS port"))
        let metrics = try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.statusPort)).bodyString
        #expect(metrics.contains("argus_tls_handshakes_total{version=\"TLSv1.3\"} 10"))
        #expect(metrics.contains("argus_tls_handshake_failures_total{reason=\"plain_http\"} 1"))
        await gw.stop()
        try? await group.shutdownGracefully()
        await backend.stop()
    }
}
