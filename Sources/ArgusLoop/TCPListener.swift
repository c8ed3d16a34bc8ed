import CEpoll
import Glibc
import NIOCore

/// A listening TCP socket on an ``IOLoop``: accepts every pending connection when readable and
/// hands each (non-blocking, `TCP_NODELAY`) to `accepted`. Loop thread only, except ``init``.
/// `@unchecked Sendable`: made on any thread, then handed to its loop (``start()`` and
/// ``close()`` run there); its mutable state is touched only on the loop's thread.
public final class TCPListener: IOHandler, @unchecked Sendable {
    public let fd: Int32
    public let loop: IOLoop
    public let port: Int
    private let accepted: (Int32) -> Void
    private var closed = false

    /// Binds `host:port` (port 0: any free port; see ``port``) with `SO_REUSEADDR` and starts listening.
    public init(host: String, port: Int, backlog: Int32 = 1024, loop: IOLoop, accepted: @escaping (Int32) -> Void) throws {
        // An address, or a name (`localhost`), resolved here: this runs once, at startup.
        let address = try (try? SocketAddress(ipAddress: host, port: port)) ?? SocketAddress.resolveAll(host: host, port: port)[0]
        let family: Int32 = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32 = address.withSockAddr { bind(fd, $0, socklen_t($1)) }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let code = errno
            _ = Glibc.close(fd)
            throw IOError(errnoCode: code, reason: "bind/listen \(host):\(port)")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        // The port is at offset 2, in network order, in both sockaddr_in and sockaddr_in6.
        let actual = withUnsafeBytes(of: &storage) { Int(UInt16($0[2]) << 8 | UInt16($0[3])) }
        self.fd = fd
        self.port = actual
        self.loop = loop
        self.accepted = accepted
    }

    /// Starts accepting (on the loop's thread).
    public func start() throws {
        try loop.register(fd, events: EPOLLIN.rawValue, handler: self)
    }

    public func ioReady(_ events: UInt32) {
        // At most 64 per wake-up, so that a burst of connections does not starve the others.
        for _ in 0..<64 where !closed {
            let client = argus_accept(fd)
            if client < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR || code == ECONNABORTED { return }
                // Out of descriptors or memory (EMFILE, ENFILE, ENOMEM, ENOBUFS): the listener stays
                // readable, so stop watching it for a moment rather than spin.
                loop.deregister(fd)
                _ = loop.scheduleTask(in: .milliseconds(100)) { [self] in
                    if !closed { try? loop.register(fd, events: EPOLLIN.rawValue, handler: self) }
                }
                return
            }
            var one: Int32 = 1
            _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            accepted(client)
        }
    }

    public func loopStopping() {
        close()
    }

    /// Stops accepting and closes the socket.
    public func close() {
        guard !closed else { return }
        closed = true
        loop.deregister(fd)
        _ = Glibc.close(fd)
    }
}
