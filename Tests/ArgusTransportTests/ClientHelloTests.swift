import NIOCore
import NIOEmbedded
import NIOSSL
import Testing

@testable import ArgusTransport

/// ``ClientHelloReader`` on ClientHellos BoringSSL writes (NIOSSL's client handler in an embedded
/// channel), fed whole and byte by byte, and on what is not a ClientHello.
@Suite struct ClientHelloTests {
    /// The first flight of a client: its ClientHello record(s).
    static func clientHello(serverName: String?, alpn: [String] = [], maxVersion: TLSVersion = .tlsv13, ciphers: String? = nil) throws -> ByteBuffer {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.applicationProtocols = alpn
        configuration.maximumTLSVersion = maxVersion
        if let ciphers { configuration.cipherSuites = ciphers }
        let context = try NIOSSLContext(configuration: configuration)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
        channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 443), promise: nil)
        channel.embeddedEventLoop.run()
        var out = ByteBuffer()
        while var bytes = try channel.readOutbound(as: ByteBuffer.self) { out.writeBuffer(&bytes) }
        _ = try? channel.finish()
        return out
    }

    @Test func readsTheServerNameAndALPN() throws {
        let hello = try Self.clientHello(serverName: "Api.Example.test", alpn: ["h2", "http/1.1"])
        guard case .hello(let parsed) = ClientHelloReader().read(hello) else { Issue.record("not read"); return }
        #expect(parsed.serverName == "Api.Example.test")  // as sent: Kong compares names exactly
        #expect(parsed.alpn == ["h2", "http/1.1"])
        #expect(parsed.acceptsECDSA)
    }

    @Test func noServerNameForAnIPAddress() throws {
        guard case .hello(let parsed) = ClientHelloReader().read(try Self.clientHello(serverName: nil)) else {
            Issue.record("not read")
            return
        }
        #expect(parsed.serverName == nil)
    }

    @Test func aTLS12ClientWithOnlyRSASuitesDoesNotGetECDSA() throws {
        let hello = try Self.clientHello(serverName: "a.test", maxVersion: .tlsv12, ciphers: "ECDHE-RSA-AES128-GCM-SHA256")
        guard case .hello(let parsed) = ClientHelloReader().read(hello) else { Issue.record("not read"); return }
        #expect(!parsed.acceptsECDSA)
    }

    @Test func aTLS12ClientWhoseOnlyECDSASuitesAreCBCOnesGetsRSA() throws {
        // Argus enables no CBC suite: the ECDSA certificate would leave no suite in common
        let hello = try Self.clientHello(
            serverName: "a.test", maxVersion: .tlsv12, ciphers: "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256")
        guard case .hello(let parsed) = ClientHelloReader().read(hello) else { Issue.record("not read"); return }
        #expect(!parsed.acceptsECDSA)
    }

    @Test func needsMoreUntilTheWholeHelloArrived() throws {
        let hello = try Self.clientHello(serverName: "a.test")
        let reader = ClientHelloReader()
        for length in stride(from: 0, to: hello.readableBytes, by: 7) {
            #expect(reader.read(hello.getSlice(at: hello.readerIndex, length: length)!) == .needMore)
        }
        #expect(reader.read(hello) != .needMore)
    }

    @Test func aHelloSplitAcrossTwoRecordsIsReassembled() throws {
        let hello = try Self.clientHello(serverName: "split.test")
        // the record's payload (the handshake message) cut in two records
        let payload = hello.getSlice(at: hello.readerIndex + 5, length: hello.readableBytes - 5)!
        var split = ByteBuffer()
        for part in [payload.getSlice(at: 0, length: 40)!, payload.getSlice(at: 40, length: payload.readableBytes - 40)!] {
            split.writeBytes([0x16, 0x03, 0x01])
            split.writeInteger(UInt16(part.readableBytes))
            var part = part
            split.writeBuffer(&part)
        }
        guard case .hello(let parsed) = ClientHelloReader().read(split) else { Issue.record("not reassembled"); return }
        #expect(parsed.serverName == "split.test")
    }

    @Test func plainHTTPAndGarbageAreToldApart() {
        #expect(ClientHelloReader().read(ByteBuffer(string: "GET / HTTP/1.1\r\n")) == .plainHTTP)
        #expect(ClientHelloReader().read(ByteBuffer(string: "P")) == .plainHTTP)
        guard case .notTLS = ClientHelloReader().read(ByteBuffer(bytes: [0x00, 0x01, 0x02])) else { Issue.record("garbage"); return }
        // a handshake record that is not a ClientHello
        guard case .notTLS = ClientHelloReader().read(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])) else {
            Issue.record("server hello")
            return
        }
        // an empty record
        guard case .notTLS = ClientHelloReader().read(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x00])) else {
            Issue.record("empty record")
            return
        }
        // a ClientHello claiming 16 MiB
        guard case .notTLS = ClientHelloReader().read(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xFF, 0xFF, 0xFF])) else {
            Issue.record("oversized")
            return
        }
    }

    @Test func theServerHelloCipherIsNamedAsOpenSSLNamesIt() {
        // record header, ServerHello header, version, random, empty session id, TLS_AES_256_GCM_SHA384
        var flight = ByteBuffer(bytes: [0x16, 0x03, 0x03, 0x00, 0x2A, 0x02, 0x00, 0x00, 0x26, 0x03, 0x03])
        flight.writeBytes([UInt8](repeating: 7, count: 32))
        flight.writeBytes([0x00, 0x13, 0x02])
        #expect(TLSNames.cipher(TLSNames.serverHelloCipher(flight)) == "TLS_AES_256_GCM_SHA384")
        #expect(TLSNames.cipher(0xC02F) == "ECDHE-RSA-AES128-GCM-SHA256")
        #expect(TLSNames.version(.tlsv12) == "TLSv1.2")
    }
}
