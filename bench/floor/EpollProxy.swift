// floor: a minimal single-threaded epoll HTTP/1.1 keep-alive proxy in plain Swift (Glibc, no
// SwiftNIO, no Argus): what the transport alone costs when it is written for this one job. Not a
// gateway and not part of Argus: bench/floor-bench.sh measures it next to nginx and Argus, to
// show how much of Argus's CPU per request is the transport (see BENCHMARKS.md).
//
// One upstream connection per client connection; request heads forwarded as they are (no request
// bodies), a Via line added to each response (not to one that arrived over several reads),
// responses framed by Content-Length; one shared read buffer; level-triggered epoll.
//
//   swiftc -O -import-objc-header bench/floor/shim.h -o floor bench/floor/EpollProxy.swift
//   ./floor LISTEN_PORT UPSTREAM_PORT
import Glibc

let listenPort = UInt16(CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 19003)
let upstreamPort = UInt16(CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : 19001)

final class Conn {
    let fd: Int32
    var peer: Conn?
    let isUpstream: Bool
    var pending: [UInt8] = []     // bytes of a message read so far (when it came in pieces)
    init(fd: Int32, isUpstream: Bool) { self.fd = fd; self.isUpstream = isUpstream }
}

var conns = [Conn?](repeating: nil, count: 65536)
let ep = epoll_create1(0)
func add(_ fd: Int32) {
    var ev = epoll_event()
    ev.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
    ev.data.fd = fd
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)
}
func nonblocking(_ fd: Int32) { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
func nodelay(_ fd: Int32) { var one: Int32 = 1; setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4) }
func address(_ port: UInt16) -> sockaddr_in {
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = port.bigEndian
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    return a
}
func close(_ c: Conn) {
    conns[Int(c.fd)] = nil
    Glibc.close(c.fd)
    if let p = c.peer { c.peer = nil; p.peer = nil; conns[Int(p.fd)] = nil; Glibc.close(p.fd) }
}
func connectUpstream() -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var a = address(upstreamPort)
    let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    if r != 0 { Glibc.close(fd); return -1 }
    nonblocking(fd); nodelay(fd)
    return fd
}

let lfd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
var one: Int32 = 1
setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
var la = address(listenPort)
_ = withUnsafePointer(to: &la) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(lfd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
listen(lfd, 1024)
nonblocking(lfd)
add(lfd)

let bufferSize = 65536
let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 64)
let viaHeader: [UInt8] = Array("Via: 1.1 proto\r\n".utf8)

/// Index just past "\r\n\r\n" in bytes, or nil.
func headEnd(_ p: UnsafeRawBufferPointer) -> Int? {
    var i = 3
    while i < p.count {
        if p[i] == 10 && p[i - 1] == 13 && p[i - 2] == 10 && p[i - 3] == 13 { return i + 1 }
        i += 1
    }
    return nil
}
/// Content-Length value in a head (case-insensitive), or 0.
func contentLength(_ p: UnsafeRawBufferPointer, _ end: Int) -> Int {
    var i = 0
    while i + 16 < end {
        if p[i] == 10 && (p[i + 1] | 0x20) == UInt8(ascii: "c") && (p[i + 8] | 0x20) == UInt8(ascii: "-") && (p[i + 9] | 0x20) == UInt8(ascii: "l") && p[i + 15] == UInt8(ascii: ":") {
            var j = i + 16, n = 0
            while j < end && p[j] == 32 { j += 1 }
            while j < end && p[j] >= 48 && p[j] <= 57 { n = n * 10 + Int(p[j] - 48); j += 1 }
            return n
        }
        i += 1
    }
    return 0
}

var events = [epoll_event](repeating: epoll_event(), count: 256)
while true {
    let n = epoll_wait(ep, &events, 256, -1)
    if n < 0 { continue }
    for k in 0..<Int(n) {
        let fd = events[k].data.fd
        if fd == lfd {
            while true {
                let c = accept(lfd, nil, nil)
                if c < 0 { break }
                nodelay(c); nonblocking(c)
                conns[Int(c)] = Conn(fd: c, isUpstream: false)
                add(c)
            }
            continue
        }
        guard let c = conns[Int(fd)] else { continue }
        let got = read(fd, buffer, bufferSize)
        if got <= 0 { if got == 0 || errno != EAGAIN { close(c) }; continue }
        let bytes = UnsafeRawBufferPointer(start: buffer, count: got)
        if c.isUpstream {
            // Response: forwarded once whole (head + Content-Length bytes).
            if !c.pending.isEmpty {
                c.pending.append(contentsOf: bytes)
                let done = c.pending.withUnsafeBytes { p -> Bool in
                    guard let e = headEnd(p) else { return false }
                    return p.count >= e + contentLength(p, e)
                }
                if !done { continue }
                if let client = c.peer { c.pending.withUnsafeBytes { p in _ = write(client.fd, p.baseAddress, p.count) } }
                c.pending.removeAll(keepingCapacity: true)
                continue
            }
            guard let e = headEnd(bytes), bytes.count >= e + contentLength(bytes, e) else { c.pending.append(contentsOf: bytes); continue }
            if let client = c.peer {
                // The head with a Via line inserted before its empty line, then the body: one writev.
                var iov = (iovec(iov_base: buffer, iov_len: e - 2),
                           iovec(iov_base: UnsafeMutableRawPointer(mutating: viaHeader.withUnsafeBytes { $0.baseAddress! }), iov_len: viaHeader.count),
                           iovec(iov_base: buffer + (e - 2), iov_len: got - (e - 2)))
                _ = withUnsafePointer(to: &iov) { $0.withMemoryRebound(to: iovec.self, capacity: 3) { writev(client.fd, $0, 3) } }
            }
        } else {
            guard headEnd(bytes) != nil else { continue }  // requests fit one read here
            if c.peer == nil {
                let u = connectUpstream()
                if u < 0 { close(c); continue }
                let uc = Conn(fd: u, isUpstream: true)
                uc.peer = c; c.peer = uc
                conns[Int(u)] = uc
                add(u)
            }
            _ = write(c.peer!.fd, buffer, got)
        }
    }
}
