import ArgusLoop
import Glibc
import NIOCore

/// `argus-bench loop-proxy LISTEN_PORT UPSTREAM_PORT`: bench/floor's bare proxy again, built on
/// ArgusLoop's `IOLoop` and `TCPConnection` (ByteBuffers, delegates, a write queue) instead of
/// raw epoll calls: what the transport Argus is moving to costs per request before any gateway
/// work (bench/floor-bench.sh runs it next to floor, nginx and Argus). One upstream connection per
/// client connection, request heads forwarded as they are, responses framed by Content-Length.
enum LoopProxy {
    static func run(listenPort: Int, upstreamPort: Int) throws -> Never {
        let loop = IOLoop(name: "loop-proxy")
        let upstream = try SocketAddress(ipAddress: "127.0.0.1", port: upstreamPort)
        let listener = try TCPListener(host: "127.0.0.1", port: listenPort, loop: loop) { fd in
            let client = ClientSide(connection: TCPConnection(fd: fd, loop: loop), upstream: upstream)
            try? client.start()
        }
        loop.execute { try? listener.start() }
        while true { pause() }
    }

    /// A client connection and, once it sent a request, its own upstream connection.
    final class ClientSide: TCPConnectionDelegate {
        let connection: TCPConnection
        let address: SocketAddress
        var upstream: UpstreamSide?
        var pendingRequest: ByteBuffer?

        init(connection: TCPConnection, upstream: SocketAddress) {
            self.connection = connection
            self.address = upstream
        }

        func start() throws {
            connection.delegate = self
            try connection.start()
        }

        func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
            if let upstream {
                upstream.connection.writeAndFlush(bytes)
                return
            }
            if var pending = pendingRequest {  // more bytes while the upstream connection is still being made
                var more = bytes
                pending.writeBuffer(&more)
                pendingRequest = pending
                return
            }
            pendingRequest = bytes
            let loop = connection.loop
            TCPConnector.connect(to: address, on: loop, timeout: .seconds(5)).assumeIsolatedUnsafeUnchecked().whenComplete { result in
                guard case .success(let fd) = result else { connection.close(); return }
                let side = UpstreamSide(connection: TCPConnection(fd: fd, loop: loop), client: self)
                self.upstream = side
                try? side.start()
                if let request = self.pendingRequest.take() { side.connection.writeAndFlush(request) }
            }
        }

        func connectionReadEnded(_ connection: TCPConnection) { connection.close() }
        func connectionBecameWritable(_ connection: TCPConnection) {}
        func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
            upstream?.connection.close()
            upstream = nil
        }
    }

    /// The upstream side: a response is written to the client once whole, with a Via line.
    final class UpstreamSide: TCPConnectionDelegate {
        let connection: TCPConnection
        unowned let client: ClientSide
        var pending = ByteBuffer()
        static let via = ByteBuffer(string: "Via: 1.1 loop-proxy\r\n")

        init(connection: TCPConnection, client: ClientSide) {
            self.connection = connection
            self.client = client
        }

        func start() throws {
            connection.delegate = self
            try connection.start()
        }

        func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
            var bytes = bytes
            if pending.readableBytes > 0 || !Self.complete(bytes) {
                pending.writeBuffer(&bytes)
                guard Self.complete(pending) else { return }
                bytes = pending
                pending = ByteBuffer()
            }
            guard let end = Self.headEnd(bytes) else { return }
            client.connection.write(bytes.getSlice(at: bytes.readerIndex, length: end - 2)!)
            client.connection.write(Self.via)
            client.connection.write(bytes.getSlice(at: bytes.readerIndex + end - 2, length: bytes.readableBytes - end + 2)!)
            client.connection.flush()
        }

        func connectionReadEnded(_ connection: TCPConnection) { connection.close() }
        func connectionBecameWritable(_ connection: TCPConnection) {}
        func connectionClosed(_ connection: TCPConnection, error: (any Error)?) { client.connection.close() }

        /// Offset just past the head's empty line, relative to the reader index.
        static func headEnd(_ buffer: ByteBuffer) -> Int? {
            buffer.withUnsafeReadableBytes { p in
                var i = 3
                while i < p.count {
                    if p[i] == 10 && p[i - 1] == 13 && p[i - 2] == 10 && p[i - 3] == 13 { return i + 1 }
                    i += 1
                }
                return nil
            }
        }

        static func complete(_ buffer: ByteBuffer) -> Bool {
            guard let end = headEnd(buffer) else { return false }
            let length: Int = buffer.withUnsafeReadableBytes { p in
                var i = 0
                while i + 16 < end {
                    if p[i] == 10 && (p[i + 1] | 0x20) == UInt8(ascii: "c") && (p[i + 9] | 0x20) == UInt8(ascii: "l") && p[i + 15] == UInt8(ascii: ":") {
                        var j = i + 16, n = 0
                        while j < end && p[j] == 32 { j += 1 }
                        while j < end && p[j] >= 48 && p[j] <= 57 { n = n * 10 + Int(p[j] - 48); j += 1 }
                        return n
                    }
                    i += 1
                }
                return 0
            }
            return buffer.readableBytes >= end + length
        }
    }
}
