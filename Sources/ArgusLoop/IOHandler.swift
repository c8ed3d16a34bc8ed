/// What an ``IOLoop`` calls when a file descriptor registered with it is ready: on the loop's
/// thread, with the epoll event bits (`EPOLLIN`, `EPOLLOUT`, `EPOLLRDHUP`, `EPOLLERR`, `EPOLLHUP`).
public protocol IOHandler: AnyObject {
    func ioReady(_ events: UInt32)
}
