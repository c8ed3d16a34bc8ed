import CEpoll
import Glibc
import NIOCore

/// What a ``TCPConnection`` reports, on its loop's thread.
public protocol TCPConnectionDelegate: AnyObject {
    /// Bytes arrived. The buffer is the loop's read buffer: keep it (or a slice) only as long as
    /// needed; the loop reuses its memory when nothing else holds it.
    func connection(_ connection: TCPConnection, read bytes: ByteBuffer)
    /// What one read brought was delivered (a TLS layer delivers a read's records as several
    /// buffers, then this): the time to flush what the bytes caused.
    func connectionReadComplete(_ connection: TCPConnection)
    /// The peer closed its side: nothing more will be read.
    func connectionReadEnded(_ connection: TCPConnection)
    /// Everything queued has been written after ``TCPConnection/isWritable`` was false.
    func connectionBecameWritable(_ connection: TCPConnection)
    /// The connection is closed (by ``TCPConnection/close()`` or an error); `error` is nil for a close asked for.
    func connectionClosed(_ connection: TCPConnection, error: (any Error)?)
    /// ``TCPConnection/shutdownOutput()`` sent the FIN (everything queued before it was written).
    func connectionOutputShut(_ connection: TCPConnection)
}

extension TCPConnectionDelegate {
    public func connectionOutputShut(_ connection: TCPConnection) {}
    public func connectionReadComplete(_ connection: TCPConnection) {}
}

/// A connected TCP socket driven by an ``IOLoop``: reads into the loop's buffer, writes queued
/// buffers with `writev` as far as the socket takes them, reports writability for backpressure,
/// and lets the owner stop and resume reading. Loop thread only, except ``init``
/// (`@unchecked Sendable` so that it can be handed to the loop; nothing in it is locked).
public final class TCPConnection: IOHandler, @unchecked Sendable {
    public let fd: Int32
    public let loop: IOLoop
    public var delegate: (any TCPConnectionDelegate)?
    /// Queued bytes above which ``isWritable`` turns false (and below half of which it turns true again).
    public var highWaterMark = 64 * 1024

    private var queue = CircularBuffer<ByteBuffer>(initialCapacity: 4)
    private var queuedBytes = 0
    private var reading = true
    private var readEnded = false
    private var outputShut = false
    private var shutOutputWhenFlushed = false
    private var closed = false
    private var wasUnwritable = false
    private var interest: UInt32 = 0
    private var registered = false
    /// Not watched after a hang-up while reading was paused (see ``ioReady(_:)``).
    private var parked = false

    /// Takes over `fd` (a connected, non-blocking stream socket) on `loop`.
    public init(fd: Int32, loop: IOLoop) {
        self.fd = fd
        self.loop = loop
    }

    /// Starts watching the socket. Call once the delegate is set.
    /// Starts reading; a connection already started stays as it is (a layer that read its first
    /// bytes, such as a PROXY protocol header, hands it on started).
    public func start() throws {
        loop.preconditionInEventLoop(file: #file, line: #line)
        if registered || parked { return }
        interest = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
        try loop.register(fd, events: interest, handler: self)
        registered = true
    }

    public var isOpen: Bool { !closed }
    /// The peer's address (`getpeername`); nil once closed or if the socket has none.
    public var remoteAddress: SocketAddress? { closed ? nil : SocketAddress.of(fd, peer: true) }
    /// This end's address (`getsockname`).
    public var localAddress: SocketAddress? { closed ? nil : SocketAddress.of(fd, peer: false) }
    /// Bytes queued and not yet written.
    public var pendingBytes: Int { queuedBytes }
    /// False from when the queue reaches ``highWaterMark`` until it drains to half of it.
    public var isWritable: Bool { !wasUnwritable }

    /// Queues `buffer`; ``flush()`` writes what is queued (several buffers in one `writev`).
    public func write(_ buffer: ByteBuffer) {
        guard !closed, !outputShut, buffer.readableBytes > 0 else { return }
        queue.append(buffer)
        queuedBytes += buffer.readableBytes
        if queuedBytes >= highWaterMark { wasUnwritable = true }
    }

    /// Writes as much of the queue as the socket takes now; the rest when it is writable again.
    public func flush() {
        guard !closed, !queue.isEmpty, interest & EPOLLOUT.rawValue == 0 else { return }  // already waiting for room
        flushQueue()
    }

    /// ``write(_:)`` then ``flush()``.
    public func writeAndFlush(_ buffer: ByteBuffer) {
        write(buffer)
        flush()
    }

    /// Stops or resumes reading (backpressure on the peer through TCP's window).
    public func setReading(_ on: Bool) {
        guard reading != on, !closed else { return }
        reading = on
        if on && parked {
            // Watched again after a hang-up while paused: level-triggered, the unread data is reported.
            parked = false
            interest = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
            registered = (try? loop.register(fd, events: interest, handler: self)) != nil
            if !registered { close(error: IOError(errnoCode: EBADF, reason: "epoll_ctl(ADD)")) }
            return
        }
        updateInterest()
    }

    /// Flushes, and sends FIN once everything queued is written; reading goes on.
    public func shutdownOutput() {
        guard !closed, !outputShut else { return }
        if queue.isEmpty {
            outputShut = true
            _ = shutdown(fd, Int32(SHUT_WR))
            delegate?.connectionOutputShut(self)
        } else {
            shutOutputWhenFlushed = true
            flush()
        }
    }

    /// Closes at once (whatever is still queued is dropped).
    public func close() {
        close(error: nil)
    }

    // MARK: - Readiness

    public func ioReady(_ events: UInt32) {
        if events & EPOLLERR.rawValue != 0 {
            close(error: IOError(errnoCode: socketError() ?? ECONNRESET, reason: "socket"))
            return
        }
        if events & EPOLLOUT.rawValue != 0 { flushQueue() }
        if closed { return }
        let hangup = events & EPOLLHUP.rawValue != 0
        if (events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 || hangup) && reading && !readEnded {
            // After a hang-up nothing more arrives: what is left is read now, up to the end.
            while readOnce() && hangup && reading && !readEnded && !closed {}
        }
        guard hangup, !closed else { return }
        if reading || readEnded {
            // Both directions are shut and everything was read: done (nothing queued can be sent any more).
            close(error: nil)
        } else {
            // Paused with data possibly unread: a hang-up cannot be masked, so the socket is not
            // watched until reading resumes.
            loop.deregister(fd)
            registered = false
            parked = true
        }
    }

    public func loopStopping() {
        close(error: EventLoopError.shutdown)
    }

    /// One read; true if bytes were read (there may be more).
    @discardableResult
    private func readOnce() -> Bool {
        var buffer = loop.takeReadBuffer()
        let n = buffer.withUnsafeMutableWritableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
            buffer.moveWriterIndex(forwardBy: n)
            delegate?.connection(self, read: buffer)
            delegate?.connectionReadComplete(self)
            loop.giveBackReadBuffer(buffer)
            return true
        } else if n == 0 {
            loop.giveBackReadBuffer(buffer)
            readEnded = true
            updateInterest()
            delegate?.connectionReadEnded(self)
        } else {
            loop.giveBackReadBuffer(buffer)
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return false }
            close(error: IOError(errnoCode: code, reason: "read"))
        }
        return false
    }

    private func flushQueue() {
        while !queue.isEmpty && !closed {
            let count = min(queue.count, 64)
            // The queue holds the buffers (and so their storage) until they are written.
            let written: Int = withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { vectors in
                for i in 0..<count {
                    let buffer = queue[queue.index(queue.startIndex, offsetBy: i)]
                    buffer.withUnsafeReadableBytes { raw in
                        vectors[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count)
                    }
                }
                return writev(fd, vectors.baseAddress, Int32(count))
            }
            if written == 0 { break }  // nothing taken: wait for writability
            if written < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK { break }
                if code == EINTR { continue }
                close(error: IOError(errnoCode: code, reason: "writev"))
                return
            }
            var left = written
            queuedBytes -= written
            while left > 0, var first = queue.first {
                if first.readableBytes <= left {
                    left -= first.readableBytes
                    queue.removeFirst()
                } else {
                    first.moveReaderIndex(forwardBy: left)
                    queue[queue.startIndex] = first
                    left = 0
                }
            }
        }
        updateInterest()
        compactQueue()
        if queue.isEmpty && shutOutputWhenFlushed && !outputShut && !closed {
            outputShut = true
            _ = shutdown(fd, Int32(SHUT_WR))
            delegate?.connectionOutputShut(self)
        }
        if wasUnwritable && queuedBytes <= highWaterMark / 2 && !closed {
            wasUnwritable = false
            delegate?.connectionBecameWritable(self)
        }
    }

    /// A queued buffer that is a small part of a large storage (a slice of the loop's 64 KiB read
    /// buffer, say) is copied into one of its own size, so that a backed-up queue holds about as
    /// much memory as ``queuedBytes`` says.
    private func compactQueue() {
        guard !queue.isEmpty else { return }
        for i in queue.indices where queue[i].storageCapacity >= 4096 && queue[i].readableBytes * 4 < queue[i].storageCapacity {
            var own = ByteBufferAllocator().buffer(capacity: queue[i].readableBytes)
            own.writeImmutableBuffer(queue[i])
            queue[i] = own
        }
    }

    private func updateInterest() {
        guard registered, !closed else { return }
        var wanted: UInt32 = 0
        if reading && !readEnded { wanted |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
        if !queue.isEmpty { wanted |= EPOLLOUT.rawValue }
        guard wanted != interest else { return }
        interest = wanted
        try? loop.modify(fd, events: wanted)
    }

    private func close(error: (any Error)?) {
        guard !closed else { return }
        closed = true
        if registered { loop.deregister(fd) }
        _ = Glibc.close(fd)
        queue.removeAll()
        queuedBytes = 0
        let delegate = self.delegate
        self.delegate = nil
        delegate?.connectionClosed(self, error: error)
    }

    private func socketError() -> Int32? {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) == 0, code != 0 else { return nil }
        return code
    }
}
