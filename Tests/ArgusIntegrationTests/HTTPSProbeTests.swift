import ArgusApp
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// `type: https` active health checks against a real TLS server (NIOSSL, with a self-signed
/// certificate made by openssl): over TLS the probe succeeds when verification is off, and fails
/// (the target is ejected) when the certificate is verified and not trusted.
@Suite("https active health checks", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
struct HTTPSProbeTests {
    /// A TLS server answering `HTTP/1.1 200 OK` to any request, and counting the requests.
    final class TLSBackend: Sendable {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel: any Channel
        let requests = NIOLockedValueBox(0)

        init(directory: String) async throws {
            let context = try TestCertificate.serverContext(directory: directory)
            let counter = requests
            channel = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                        try channel.pipeline.syncOperations.addHandler(Answer(counter: counter))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        var port: Int { channel.localAddress!.port! }

        func stop() async {
            try? await channel.close()
            try? await group.shutdownGracefully()
        }

        final class Answer: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            typealias OutboundOut = ByteBuffer
            let counter: NIOLockedValueBox<Int>
            init(counter: NIOLockedValueBox<Int>) { self.counter = counter }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                counter.withLockedValue { $0 += 1 }
                let reply = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                let channel = context.channel
                context.writeAndFlush(NIOAny(reply)).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    func state(_ gw: GatewayHarness, _ port: Int) async throws -> String? {
        let text = try #require(try await gw.request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: gw.statusPort)).bodyString
        for s in ["healthy", "unhealthy", "healthchecks_off"]
        where text.contains("target=\"127.0.0.1:\(port)\",address=\"127.0.0.1:\(port)\",state=\"\(s)\",subsystem=\"http\"} 1") {
            return s
        }
        return nil
    }

    func gateway(_ port: Int, verify: Bool) async throws -> GatewayHarness {
        try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                host: secure
                protocol: https
                routes: [{name: main, paths: ["/"]}]
            upstreams:
              - name: secure
                healthchecks:
                  active:
                    type: https
                    https_sni: localhost
                    https_verify_certificate: \(verify)
                    healthy: {interval: 0.2, successes: 1}
                    unhealthy: {interval: 0.2, tcp_failures: 1, http_failures: 1}
                targets: [{target: "127.0.0.1:\(port)"}]
            plugins:
              - name: prometheus
                config: {upstream_health_metrics: true}
            """)
    }

    @Test func probesSpeakTLSAndVerifyWhenAsked() async throws {
        let directory = try TestCertificate.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let backend = try await TLSBackend(directory: directory)
        defer { Task { await backend.stop() } }
        let lenient = try await gateway(backend.port, verify: false)
        var probed = false
        for _ in 0..<30 where !probed {
            try await Task.sleep(for: .milliseconds(100))
            probed = backend.requests.withLockedValue { $0 } >= 2
        }
        #expect(probed, "probes reach the TLS server")
        #expect(try await state(lenient, backend.port) == "healthy")
        await lenient.stop()

        let strict = try await gateway(backend.port, verify: true)
        var ejected = false
        for _ in 0..<30 where !ejected {
            try await Task.sleep(for: .milliseconds(100))
            ejected = try await state(strict, backend.port) == "unhealthy"
        }
        #expect(ejected, "an untrusted certificate fails the probe")
        await strict.stop()
    }
}
