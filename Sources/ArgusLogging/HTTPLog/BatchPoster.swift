import ArgusHTTP
import ArgusLoop
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Blocking HTTP/1.1 requests to one `http://` endpoint over a kept-alive connection, for the
/// sender thread of an ``HTTPLogSink``: the head and the batch go out in one vectored write, the
/// answer is read and its body skipped, every step bounded by the request's deadline (`poll`).
///
/// A connection the endpoint closed while it was idle (nothing of the answer read) is replaced
/// once, at once, as HTTP clients do for kept-alive connections; any other failure is the batch's
/// (the sink retries it with its backoff). Not thread-safe: one sender thread owns it.
final class BatchPoster {
    /// Where requests go, from an `http://` URL.
    struct Target: Equatable {
        var host: String
        var port: Int
        /// `Host` as the URL gave it (with a non-default port).
        var authority: String
        /// Path and query, at least `/`.
        var target: String

        /// Nil for anything but `http://host[:port][/path][?query]` (https goes through async-http-client).
        init?(url: String) {
            guard url.lowercased().hasPrefix("http://") else { return nil }
            var rest = Substring(url.dropFirst(7))
            if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
            let pathStart = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            let authority = rest[..<pathStart]
            var path = String(rest[pathStart...])
            if path.isEmpty || path.first == "?" { path = "/" + path }
            guard !authority.isEmpty, !authority.contains("@") else { return nil }
            var host = Substring(authority)
            var port = 80
            if host.first == "[" {  // [v6]:port
                guard let close = host.firstIndex(of: "]") else { return nil }
                let after = host[host.index(after: close)...]
                host = host[host.index(after: host.startIndex)..<close]
                if !after.isEmpty {
                    guard after.first == ":", let p = Int(after.dropFirst()) else { return nil }
                    port = p
                }
            } else if let colon = host.lastIndex(of: ":") {
                guard let p = Int(host[host.index(after: colon)...]) else { return nil }
                port = p
                host = host[..<colon]
            }
            guard !host.isEmpty, (1...65535).contains(port) else { return nil }
            self.host = String(host)
            self.port = port
            self.authority = String(authority)
            self.target = path
        }
    }

    enum Failure: Error, CustomStringConvertible {
        case system(String, Int32)
        case unresolved(String)
        case timedOut(String)
        case closed(String)
        case badResponse(String)

        var description: String {
            switch self {
            case .system(let step, let code): "\(step): \(String(cString: strerror(code)))"
            case .unresolved(let why): why
            case .timedOut(let step): "timed out \(step)"
            case .closed(let step): "connection closed \(step)"
            case .badResponse(let why): "bad response: \(why)"
            }
        }
    }

    let target: Target
    private var fd: Int32 = -1
    /// When the connection last finished an exchange (monotonic ns).
    private var idleSince: UInt64 = 0
    private var input = ByteBufferAllocator().buffer(capacity: 4096)
    private var parser = ResponseHeadParser(maxHeadLength: 64 << 10)
    /// Connections opened (the first and every replacement).
    private(set) var connects: UInt64 = 0

    init(target: Target) {
        self.target = target
    }

    deinit { disconnect() }

    var isConnected: Bool { fd >= 0 }

    func disconnect() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        input.clear()
    }

    /// Sends `head` (ending in its blank line) and `body`; returns the response's status.
    /// A connection idle for `keepalive` or longer is not reused.
    func exchange(head: ByteBuffer, body: ByteBuffer, timeout: Duration, connectTimeout: Duration, keepalive: Duration) throws(Failure) -> Int {
        let deadline = Self.now() &+ Self.nanoseconds(timeout)
        if fd >= 0, Self.now() &- idleSince >= Self.nanoseconds(keepalive) { disconnect() }
        let reused = fd >= 0
        do {
            return try attempt(head: head, body: body, deadline: deadline, connectTimeout: connectTimeout)
        } catch {
            disconnect()
            // A kept-alive connection the endpoint had closed: nothing of an answer came back.
            guard reused, case .closed = error else { throw error }
            return try attempt(head: head, body: body, deadline: deadline, connectTimeout: connectTimeout)
        }
    }

    private func attempt(head: ByteBuffer, body: ByteBuffer, deadline: UInt64, connectTimeout: Duration) throws(Failure) -> Int {
        if fd < 0 { try connect(deadline: min(deadline, Self.now() &+ Self.nanoseconds(connectTimeout))) }
        try write(head, body, deadline: deadline)
        let status = try readResponse(deadline: deadline)
        idleSince = Self.now()
        return status
    }

    // MARK: - Connecting

    private func connect(deadline: UInt64) throws(Failure) {
        let addresses: [SocketAddress]
        do {
            addresses = try SocketAddress.resolveAll(host: target.host, port: target.port)
        } catch {
            throw .unresolved("\(error)")  // the resolver's own words: "cannot resolve <host>: <reason>"
        }
        var last = Failure.system("connect", ECONNREFUSED)
        for address in addresses {
            do {
                fd = try open(address, deadline: deadline)
                connects += 1
                return
            } catch {
                last = error
                if case .timedOut = error { throw error }
            }
        }
        throw last
    }

    private func open(_ address: SocketAddress, deadline: UInt64) throws(Failure) -> Int32 {
        let family: Int32 = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let result: Int32 = address.withSockAddr { Glibc.connect(fd, $0, socklen_t($1)) }
        if result != 0 {
            let code = errno
            guard code == EINPROGRESS else {
                _ = Glibc.close(fd)
                throw .system("connect", code)
            }
            do throws(Failure) {
                try wait(fd, for: Int16(POLLOUT), deadline: deadline, step: "connecting")
            } catch {
                _ = Glibc.close(fd)
                throw error
            }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
            if failure != 0 {
                _ = Glibc.close(fd)
                throw .system("connect", failure)
            }
        }
        return fd
    }

    // MARK: - Writing and reading

    private func write(_ head: ByteBuffer, _ body: ByteBuffer, deadline: UInt64) throws(Failure) {
        var head = head
        var body = body
        while head.readableBytes + body.readableBytes > 0 {
            var code: Int32 = 0
            let sent: Int = head.withUnsafeReadableBytes { h in
                body.withUnsafeReadableBytes { b in
                    var parts = [
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: h.baseAddress), iov_len: h.count),
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count),
                    ]
                    return parts.withUnsafeMutableBufferPointer { vectors in
                        var message = msghdr()
                        message.msg_iov = h.isEmpty ? vectors.baseAddress! + 1 : vectors.baseAddress!
                        message.msg_iovlen = h.isEmpty ? 1 : 2
                        let sent = Glibc.sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
                        if sent < 0 { code = errno }
                        return sent
                    }
                }
            }
            if sent < 0 {
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK {
                    try wait(fd, for: Int16(POLLOUT), deadline: deadline, step: "writing")
                    continue
                }
                if code == EPIPE || code == ECONNRESET { throw .closed("while writing") }
                throw .system("write", code)
            }
            let fromHead = min(sent, head.readableBytes)
            head.moveReaderIndex(forwardBy: fromHead)
            body.moveReaderIndex(forwardBy: sent - fromHead)
        }
    }

    /// Reads the answer through its body; returns its status. The connection stays open when
    /// the answer allows it.
    private func readResponse(deadline: UInt64) throws(Failure) -> Int {
        input.clear()
        var head: ResponseHead?
        var gotBytes = false
        while head == nil {
            gotBytes = try fill(deadline: deadline, anything: gotBytes) || gotBytes
            switch parser.parse(&input, requestWasHEAD: false) {
            case .needMore, .informational: continue
            case .error(let error): throw .badResponse("\(error)")
            case .head(let h): head = h
            }
        }
        guard let head else { throw .badResponse("no head") }
        parser.recycle(head.fields)
        switch head.framing {
        case .none:
            break
        case .length(var left):
            while true {
                let take = min(left, input.readableBytes)
                input.moveReaderIndex(forwardBy: take)
                left -= take
                if left == 0 { break }
                _ = try fill(deadline: deadline, anything: true)
            }
        case .chunked:
            var decoder = ChunkedDecoder()
            while true {
                do throws(HTTPParseError) {
                    try decoder.decode(&input) { _ in }
                } catch {
                    throw .badResponse("\(error)")
                }
                if decoder.isComplete { break }
                _ = try fill(deadline: deadline, anything: true)
            }
        case .untilClose:
            while (try? fill(deadline: deadline, anything: true)) != nil { input.clear() }
            disconnect()
            return head.status
        }
        if !head.keepAlive || input.readableBytes > 0 { disconnect() }
        return head.status
    }

    /// Reads what is there (waiting until the deadline); true once bytes came. An end of stream
    /// before anything of the answer is `.closed` (a stale kept-alive connection).
    @discardableResult
    private func fill(deadline: UInt64, anything: Bool) throws(Failure) -> Bool {
        while true {
            var result = 0
            var code: Int32 = 0
            input.writeWithUnsafeMutableBytes(minimumWritableBytes: 16 << 10) { out in
                result = Glibc.read(fd, out.baseAddress, out.count)
                if result < 0 { code = errno }
                return max(0, result)
            }
            if result > 0 { return true }
            if result == 0 || code == ECONNRESET {
                throw anything ? .badResponse("connection closed mid-answer") : .closed("before the answer")
            }
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else { throw .system("read", code) }
            try wait(fd, for: Int16(POLLIN), deadline: deadline, step: "waiting for the answer")
        }
    }

    private func wait(_ fd: Int32, for events: Int16, deadline: UInt64, step: String) throws(Failure) {
        while true {
            let now = Self.now()
            guard now < deadline else { throw .timedOut(step) }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ms = Int32(min((deadline - now + 999_999) / 1_000_000, 60_000))
            let ready = poll(&entry, 1, ms)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .system("poll", errno) }
        }
    }

    // MARK: - Time

    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    static func nanoseconds(_ d: Duration) -> UInt64 {
        let (s, atto) = d.components
        guard s >= 0 else { return 0 }
        return UInt64(s) * 1_000_000_000 + UInt64(max(0, atto) / 1_000_000_000)
    }
}
