/// What an ``IOLoop`` calls when a file descriptor registered with it is ready: on the loop's
/// thread, with the epoll event bits (`EPOLLIN`, `EPOLLOUT`, `EPOLLRDHUP`, `EPOLLERR`, `EPOLLHUP`).
public protocol IOHandler: AnyObject {
    func ioReady(_ events: UInt32)
    /// The loop is stopping with this handler still registered: close the descriptor, fail what
    /// waits on it. On the loop's thread, after every task submitted before the shutdown ran.
    func loopStopping()
}

extension IOHandler {
    public func loopStopping() {}
}
