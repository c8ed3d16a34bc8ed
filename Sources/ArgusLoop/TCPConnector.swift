import CEpoll
import Glibc
import NIOCore

/// Opens non-blocking TCP connections on an ``IOLoop``, with a timeout.
public enum TCPConnector {
    /// Connects to `address`; the future (on `loop`) gets the connected socket (non-blocking,
    /// `TCP_NODELAY`) or fails with the connect error or `ChannelError.connectTimeout`.
    public static func connect(to address: SocketAddress, on loop: IOLoop, timeout: TimeAmount) -> EventLoopFuture<Int32> {
        let family: Int32 = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return loop.makeFailedFuture(IOError(errnoCode: errno, reason: "socket")) }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let result: Int32 = address.withSockAddr { Glibc.connect(fd, $0, socklen_t($1)) }
        if result == 0 { return loop.makeSucceededFuture(fd) }
        let code = errno
        guard code == EINPROGRESS else {
            _ = Glibc.close(fd)
            return loop.makeFailedFuture(IOError(errnoCode: code, reason: "connect"))
        }
        let promise: EventLoopPromise<Int32> = loop.makePromise()
        let queued = loop.executeIfRunning {
            let waiter = Waiter(fd: fd, loop: loop, promise: promise)
            do {
                try loop.register(fd, events: EPOLLOUT.rawValue, handler: waiter)
            } catch {
                _ = Glibc.close(fd)
                promise.fail(error)
                return
            }
            let timer = loop.scheduleTask(in: timeout) { waiter.finish(ChannelError.connectTimeout(timeout)) }
            waiter.timer = timer
        }
        if !queued {
            _ = Glibc.close(fd)
            return loop.makeFailedFuture(EventLoopError.shutdown)
        }
        return promise.futureResult
    }

    /// Connects to the first of `addresses` that accepts, trying them in order (a refusal or an
    /// unreachable address moves on to the next); `timeout` bounds the whole attempt and its
    /// expiry fails with `ChannelError.connectTimeout(timeout)`.
    public static func connect(to addresses: [SocketAddress], on loop: IOLoop, timeout: TimeAmount) -> EventLoopFuture<Int32> {
        guard !addresses.isEmpty else { return loop.makeFailedFuture(IOError(errnoCode: EADDRNOTAVAIL, reason: "connect: no address")) }
        return attempt(addresses, 0, on: loop, deadline: .now() + timeout, timeout: timeout)
    }

    private static func attempt(
        _ addresses: [SocketAddress], _ index: Int, on loop: IOLoop, deadline: NIODeadline, timeout: TimeAmount
    ) -> EventLoopFuture<Int32> {
        let left = deadline - .now()
        guard left > .zero else { return loop.makeFailedFuture(ChannelError.connectTimeout(timeout)) }
        return connect(to: addresses[index], on: loop, timeout: left).flatMapError { error in
            if case ChannelError.connectTimeout = error { return loop.makeFailedFuture(ChannelError.connectTimeout(timeout)) }
            if error is EventLoopError { return loop.makeFailedFuture(error) }  // the loop is stopping
            guard index + 1 < addresses.count else { return loop.makeFailedFuture(error) }
            return attempt(addresses, index + 1, on: loop, deadline: deadline, timeout: timeout)
        }
    }

    /// Waits for writability (the connect's outcome) on the loop's thread. `@unchecked Sendable`:
    /// made where the connect starts and handed to the loop with its registration; from then on
    /// touched only on the loop's thread (nothing in it is locked).
    private final class Waiter: IOHandler, @unchecked Sendable {
        let fd: Int32
        let loop: IOLoop
        let promise: EventLoopPromise<Int32>
        var timer: Scheduled<Void>?
        var done = false

        init(fd: Int32, loop: IOLoop, promise: EventLoopPromise<Int32>) {
            self.fd = fd
            self.loop = loop
            self.promise = promise
        }

        func ioReady(_ events: UInt32) {
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
            finish(code == 0 ? nil : IOError(errnoCode: code, reason: "connect"))
        }

        func loopStopping() {
            finish(EventLoopError.shutdown)
        }

        func finish(_ error: (any Error)?) {
            guard !done else { return }
            done = true
            timer?.cancel()
            loop.deregister(fd)
            if let error {
                _ = Glibc.close(fd)
                promise.fail(error)
            } else {
                promise.succeed(fd)
            }
        }
    }
}
