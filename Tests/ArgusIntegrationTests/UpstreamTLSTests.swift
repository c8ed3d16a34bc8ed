import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Testing

import ArgusApp
import ArgusConfig
import ArgusEvents
@testable import ArgusProxy
@testable import ArgusSnapshot
import ArgusTransport

/// `https` services: Argus speaks TLS to the upstream (a real NIOSSL server with a self-signed
/// certificate made by openssl), sends the upstream Host as SNI, keeps the TLS connections alive
/// and pools them, and verifies the certificate only when the service says `tls_verify: true`
/// (Kong's default is nginx's `proxy_ssl_verify off`).
/// Keeps the status, decision and reason of every event.
final class ReasonRecorder: EventExporter, @unchecked Sendable {
    let name = "reasons"
    private let lock = NSLock()
    private var events: [RequestEvent] = []

    func receive(_ batch: UnsafeBufferPointer<RequestEvent>) {
        lock.withLock { events += batch }
    }

    /// The first `count` events, once they arrived (the exporter runs off the request path).
    func wait(count: Int) async throws -> [RequestEvent] {
        for _ in 0..<200 {
            let seen = lock.withLock { events }
            if seen.count >= count { return Array(seen.prefix(count)) }
            try await Task.sleep(for: .milliseconds(20))
        }
        return lock.withLock { events }
    }
}

@Suite("TLS to https services", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
struct UpstreamTLSTests {
    /// A TLS-only HTTP/1.1 server with keep-alive: answers every GET with
    /// `sni=<SNI or -> line=<request line> host=<Host>`, and counts its connections.
    final class TLSEchoServer: Sendable {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel: any Channel
        let connections = NIOLockedValueBox(0)

        init(directory: String) async throws {
            let context = try TestCertificate.serverContext(directory: directory)
            let connections = self.connections
            channel = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    connections.withLockedValue { $0 += 1 }
                    return channel.eventLoop.makeCompletedFuture {
                        let sni = ByteToMessageHandler(SNIHandler { result in
                            channel.eventLoop.makeCompletedFuture {
                                let name: String
                                if case .hostname(let hostname) = result { name = hostname } else { name = "-" }
                                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                                try channel.pipeline.syncOperations.addHandler(Echo(sni: name))
                            }
                        })
                        try channel.pipeline.syncOperations.addHandler(sni)
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        var port: Int { channel.localAddress!.port! }

        func stop() async {
            try? await channel.close()
            try? await group.shutdownGracefully()
        }

        final class Echo: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            typealias OutboundOut = ByteBuffer
            let sni: String
            var pending = ""
            init(sni: String) { self.sni = sni }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                pending += String(buffer: unwrapInboundIn(data))
                while let end = pending.range(of: "\r\n\r\n") {
                    let head = pending[..<end.lowerBound]
                    pending = String(pending[end.upperBound...])
                    let lines = head.split(separator: "\r\n")
                    let host = lines.first { $0.lowercased().hasPrefix("host:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) } ?? "-"
                    let body = "sni=\(sni) line=\(lines.first ?? "") host=\(host)"
                    // A request for `/close…` is answered with `Connection: close`, then TLS and
                    // the connection are closed (close_notify first).
                    let closing = lines.first?.contains(" /close") ?? false
                    let reply = "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n"
                        + (closing ? "Connection: close\r\n" : "") + "\r\n" + body
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply)), promise: nil)
                    if closing {
                        context.close(promise: nil)
                        return
                    }
                }
            }
        }
    }

    /// Runs `body` with a TLS server and its certificate (PEM; self-signed, so also its own CA).
    private func withServer(_ body: (TLSEchoServer, String) async throws -> Void) async throws {
        let directory = try TestCertificate.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await TLSEchoServer(directory: directory)
        let pem = try String(contentsOfFile: directory + "/cert.pem", encoding: .utf8)
        do {
            try await body(server, pem)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func anHTTPSServiceIsReachedOverTLSWithSNIAndPooledConnections() async throws {
        try await withServer { server, _ in
            let gw = try await GatewayHarness(yaml: """
                _format_version: "3.0"
                services:
                  - name: secure
                    url: https://localhost:\(server.port)/base
                    routes: [{name: main, paths: ["/api"]}]
                """)
            defer { Task { await gw.stop() } }
            let client = try await RawClient(port: gw.proxyPort)
            for i in 0..<3 {
                try await client.send("GET /api/item\(i)?q=1 HTTP/1.1\r\nHost: client.test\r\n\r\n")
                let response = try #require(try await client.readResponse())
                #expect(response.status == 200)
                #expect(response.bodyString == "sni=localhost line=GET /base/item\(i)?q=1 HTTP/1.1 host=localhost:\(server.port)")
            }
            await client.close()
            #expect(server.connections.withLockedValue { $0 } == 1, "one TLS connection, kept alive for every request")
        }
    }

    /// Closing a live TLS session (an upstream's `Connection: close`, the pool's idle sweep, the
    /// gateway's shutdown) must never wait for the peer's close_notify on the event loop.
    @Test(.timeLimit(.minutes(1)))
    func tlsConnectionsClosedByEitherSideLeaveTheLoopServing() async throws {
        try await withServer { server, _ in
            let gw = try await GatewayHarness(yaml: """
                _format_version: "3.0"
                services:
                  - name: secure
                    url: https://127.0.0.1:\(server.port)
                    routes: [{name: main, paths: ["/"], strip_path: false}]
                """) { $0.proxy.upstreamIdleTimeout = .milliseconds(300) }
            // The upstream closes after its answer.
            for i in 0..<3 {
                let closed = try #require(try await gw.request("GET /close/\(i) HTTP/1.1\r\nHost: x\r\n\r\n"))
                #expect(closed.status == 200)
                #expect(closed.bodyString == "sni=- line=GET /close/\(i) HTTP/1.1 host=127.0.0.1:\(server.port)")
            }
            #expect(server.connections.withLockedValue { $0 } == 3)
            // A kept-alive connection goes idle and the pool's sweep (once a second) closes it while TLS is up.
            let first = try #require(try await gw.request("GET /kept HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(first.status == 200)
            try await Task.sleep(for: .milliseconds(2_500))
            let second = try #require(try await gw.request("GET /kept/again HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(second.status == 200)
            #expect(server.connections.withLockedValue { $0 } == 5, "the idle connection was closed, a new one made")
            // Shutdown closes the pooled, live TLS connection: it must complete.
            await gw.stop()
        }
    }

    @Test func theServerNameFollowsTheHostSentUpstream() async throws {
        try await withServer { server, _ in
            // preserve_host: the client's Host goes upstream, and so does its name as SNI;
            // an IP address is never sent as SNI.
            let gw = try await GatewayHarness(yaml: """
                _format_version: "3.0"
                services:
                  - name: by-name
                    url: https://127.0.0.1:\(server.port)
                    routes: [{name: kept, paths: ["/kept"], preserve_host: true, strip_path: false}]
                  - name: by-ip
                    url: https://127.0.0.1:\(server.port)
                    routes: [{name: ip, paths: ["/ip"], strip_path: false}]
                """)
            defer { Task { await gw.stop() } }
            let kept = try #require(try await gw.request("GET /kept HTTP/1.1\r\nHost: api.example.test:8000\r\n\r\n"))
            #expect(kept.bodyString == "sni=api.example.test line=GET /kept HTTP/1.1 host=api.example.test:8000")
            let ip = try #require(try await gw.request("GET /ip HTTP/1.1\r\nHost: client.test\r\n\r\n"))
            #expect(ip.bodyString == "sni=- line=GET /ip HTTP/1.1 host=127.0.0.1:\(server.port)")
        }
    }

    @Test func anUntrustedCertificateIsRefusedOnlyWhenVerificationIsOn() async throws {
        try await withServer { server, _ in
            let events = ReasonRecorder()
            let gw = try await GatewayHarness(yaml: """
                _format_version: "3.0"
                services:
                  - name: strict
                    url: https://localhost:\(server.port)
                    tls_verify: true
                    retries: 0
                    routes: [{name: strict, paths: ["/strict"]}]
                  - name: lenient
                    url: https://localhost:\(server.port)
                    tls_verify: false
                    routes: [{name: lenient, paths: ["/lenient"]}]
                  - name: plain
                    url: http://localhost:\(server.port)
                    retries: 0
                    routes: [{name: plain, paths: ["/plain"]}]
                """, exporters: [events])
            defer { Task { await gw.stop() } }
            let strict = try #require(try await gw.request("GET /strict HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(strict.status == 502, "a self-signed certificate does not verify")
            let lenient = try #require(try await gw.request("GET /lenient HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(lenient.status == 200)
            // Plain HTTP to a TLS port: the server's TLS alert is not an HTTP response.
            let plain = try #require(try await gw.request("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(plain.status == 502)
            // The 502's event says why: the certificate did not verify (not a bare close).
            let seen = try await events.wait(count: 3)
            #expect(seen.map(\.status) == [502, 200, 502])
            #expect(seen[0].decision == .badUpstreamResponse && seen[0].reason == UpstreamReason.tlsVerification)
            #expect(seen[1].reason == 0 && seen[2].reason == 0)
        }
    }

    @Test func aServiceTrustsTheCACertificatesItNames() async throws {
        try await withServer { server, pem in
            let cert = pem.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n")
            let gw = try await GatewayHarness(yaml: """
                _format_version: "3.0"
                ca_certificates:
                  - id: 0b0f1e0e-8c1c-4f51-9d2a-2b7a8b0c4d21
                    cert: |
                \(cert)
                services:
                  - name: trusting
                    url: https://localhost:\(server.port)
                    tls_verify: true
                    ca_certificates: [0b0f1e0e-8c1c-4f51-9d2a-2b7a8b0c4d21]
                    routes: [{name: trusting, paths: ["/trusting"], strip_path: false}]
                  - name: system-roots
                    url: https://localhost:\(server.port)
                    tls_verify: true
                    retries: 0
                    routes: [{name: system, paths: ["/system"], strip_path: false}]
                """)
            defer { Task { await gw.stop() } }
            let trusting = try #require(try await gw.request("GET /trusting HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(trusting.status == 200, "verified against the service's CA certificate")
            #expect(trusting.bodyString == "sni=localhost line=GET /trusting HTTP/1.1 host=localhost:\(server.port)")
            let system = try #require(try await gw.request("GET /system HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(system.status == 502, "the same server is not trusted by the system's roots")
        }
    }

    @Test func aCASetNoLongerConfiguredIsForgotten() async throws {
        try await withServer { server, pem in
            let cert = pem.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n")
            let trusting = try ConfigLoader.parse(text: """
                _format_version: "3.0"
                ca_certificates:
                  - id: 7a3c1e52-8c1c-4f51-9d2a-2b7a8b0c4d21
                    cert: |
                \(cert)
                services:
                  - {name: trusting, url: "https://localhost:\(server.port)", tls_verify: true, ca_certificates: [7a3c1e52-8c1c-4f51-9d2a-2b7a8b0c4d21]}
                """, file: "kong.yml")
            let contexts = TLSClientContexts()  // not the shared one, which other tests' snapshots sweep
            let plan = try #require(ConfigSnapshot(config: trusting, version: 1, health: nil, resolved: [:], tlsContexts: contexts).services.first)
            let trust = try #require(plan.trust)
            #expect(contexts.has(verify: true, trust: trust), "made when the snapshot is built")
            let plain = try ConfigLoader.parse(text: """
                _format_version: "3.0"
                services: [{name: plain, url: "http://127.0.0.1:1"}]
                """, file: "kong.yml")
            _ = ConfigSnapshot(config: plain, version: 2, health: nil, resolved: [:], tlsContexts: contexts)
            #expect(contexts.has(verify: true, trust: trust), "kept while requests of the replaced snapshot may need it")
            _ = ConfigSnapshot(config: plain, version: 3, health: nil, resolved: [:], tlsContexts: contexts)
            #expect(!contexts.has(verify: true, trust: trust), "gone once no service of the last two snapshots uses it")
        }
    }
}
