import ArgusLoop
import NIOCore
import NIOPosix

/// Connects to a host by name or address on an ``IOLoop``: an address literal at once; a name
/// resolved off the loop (`getaddrinfo` on NIO's blocking-I/O pool) and its addresses tried in
/// order. `timeout` covers the lookup too (a resolver that does not answer).
public enum HostResolver {
    public static func connect(host: String, port: Int, on loop: IOLoop, timeout: TimeAmount) -> EventLoopFuture<Int32> {
        if let address = try? SocketAddress(ipAddress: host, port: port) {
            return TCPConnector.connect(to: address, on: loop, timeout: timeout)
        }
        let started = NIODeadline.now()
        let resolved = loop.makePromise(of: [SocketAddress].self)
        NIOSingletons.posixBlockingThreadPool.runIfActive(eventLoop: loop) {
            try SocketAddress.resolveAll(host: host, port: port)
        }.cascade(to: resolved)
        let timer = loop.scheduleTask(in: timeout) { resolved.fail(ChannelError.connectTimeout(timeout)) }
        return resolved.futureResult.flatMap { addresses in
            timer.cancel()
            return TCPConnector.connect(to: addresses, on: loop, timeout: timeout - (.now() - started))
        }
    }
}
