import ArgusLoop
import Atomics
import CEpoll
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// Echoes what it reads, pausing its reads while its writes are backed up.
final class Echo: TCPConnectionDelegate, @unchecked Sendable {
    let pauses = ManagedAtomic(0)
    let closed = ManagedAtomic(false)
    let closedWithError = ManagedAtomic(false)
    func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        connection.writeAndFlush(bytes)
        if !connection.isWritable {
            pauses.wrappingIncrement(ordering: .relaxed)
            connection.setReading(false)
        }
    }
    func connectionReadEnded(_ connection: TCPConnection) { connection.shutdownOutput() }
    func connectionBecameWritable(_ connection: TCPConnection) { connection.setReading(true) }
    func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        closedWithError.store(error != nil, ordering: .relaxed)
        closed.store(true, ordering: .relaxed)
    }
}

@Suite("TCP connections on an IOLoop")
struct TCPConnectionTests {
    /// A blocking client socket connected to 127.0.0.1:`port`.
    private func client(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        precondition(result == 0, "connect: errno \(errno)")
        var limit = timeval(tv_sec: 30, tv_usec: 0)  // a stalled echo fails the test instead of hanging it
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    @Test(.timeLimit(.minutes(1)))
    func sixteenMegabytesEchoBackInOrderWithBackpressure() async throws {
        let loop = IOLoop(name: "echo")
        let echo = Echo()
        let connections = NIOLockedValueBox<[TCPConnection]>([])
        let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop) { fd in
            let connection = TCPConnection(fd: fd, loop: loop)
            connection.delegate = echo
            try? connection.start()
            connections.withLockedValue { $0.append(connection) }
        }
        try await loop.submit { try listener.start() }.get()

        let size = 16 << 20
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let fd = client(listener.port)
        defer { close(fd) }
        let writer = Thread {
            var offset = 0
            while offset < size {
                let n = payload.withUnsafeBytes { write(fd, $0.baseAddress! + offset, min(256 << 10, size - offset)) }
                guard n > 0 else { break }
                offset += n
            }
            shutdown(fd, Int32(SHUT_WR))
        }
        writer.start()
        // Nobody reads yet, so the echo's writes back up: wait until it has paused its reads.
        for _ in 0..<2_000 where echo.pauses.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(10)) }
        var received: [UInt8] = []
        received.reserveCapacity(size)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            received += chunk[0..<n]
        }
        #expect(received.count == size)
        #expect(received == payload, "every byte back, in order")
        let pauses = echo.pauses.load(ordering: .relaxed)
        #expect(pauses > 0, "reading paused while the echo's writes were backed up")
        try await loop.submit {
            for c in connections.withLockedValue({ $0 }) { c.close() }
            listener.close()
        }.get()
        let closed = echo.closed.load(ordering: .relaxed)
        let withError = echo.closedWithError.load(ordering: .relaxed)
        #expect(closed && !withError, "a clean close on both sides is not an error")
        try await loop.shutdownGracefully()
    }

    @Test func connectingSucceedsOrFailsWithTheReason() async throws {
        let loop = IOLoop(name: "connect")
        let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop) { close($0) }
        try await loop.submit { try listener.start() }.get()
        let fd = try await TCPConnector.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: listener.port), on: loop, timeout: .seconds(2)).get()
        #expect(fd >= 0)
        close(fd)
        // A port nothing listens on (held, so that no parallel test takes it): refused.
        try await loop.submit { listener.close() }.get()
        let (held, port) = try Self.boundNotListening()
        defer { close(held) }
        await #expect(throws: IOError.self) {
            _ = try await TCPConnector.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port), on: loop, timeout: .seconds(2)).get()
        }
        try await loop.shutdownGracefully()
    }

    /// A TCP socket bound to a loopback port and not listening: connecting to it is refused, and no
    /// other socket can take the port while it is held.
    static func boundNotListening() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound else {
            if fd >= 0 { close(fd) }
            throw IOError(errnoCode: errno, reason: "bind")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func aListOfAddressesIsTriedInOrderUntilOneAccepts() async throws {
        let loop = IOLoop(name: "connect-list")
        let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop) { close($0) }
        try await loop.submit { try listener.start() }.get()
        // A port bound and never listened on: refused, so the next address is tried. (The socket is
        // held for the whole test: a port merely freed could be taken by a parallel test's listener.)
        let (held, refusedPort) = try Self.boundNotListening()
        defer { close(held) }
        let addresses = [
            try SocketAddress(ipAddress: "127.0.0.1", port: refusedPort),
            try SocketAddress(ipAddress: "127.0.0.1", port: listener.port),
        ]
        let fd = try await TCPConnector.connect(to: addresses, on: loop, timeout: .seconds(5)).get()
        #expect(SocketAddress.of(fd, peer: true)?.port == listener.port)
        #expect(SocketAddress.of(fd, peer: false)?.ipAddress == "127.0.0.1")
        close(fd)
        // Every address refused: the last refusal is the error.
        await #expect(throws: IOError.self) {
            _ = try await TCPConnector.connect(to: [addresses[0], addresses[0]], on: loop, timeout: .seconds(5)).get()
        }
        try await loop.submit { listener.close() }.get()
        try await loop.shutdownGracefully()
    }

    @Test func namesResolveToEveryAddressAndUnknownNamesFailClearly() throws {
        let local = try SocketAddress.resolveAll(host: "localhost", port: 8080)
        #expect(!local.isEmpty)
        #expect(local.allSatisfy { $0.port == 8080 && ($0.ipAddress == "127.0.0.1" || $0.ipAddress == "::1") })
        let literal = try SocketAddress.resolveAll(host: "127.0.0.2", port: 1)
        #expect(literal.map(\.ipAddress) == ["127.0.0.2"])
        #expect(throws: NameResolutionError.self) { try SocketAddress.resolveAll(host: "a..b", port: 80) }
    }
}
