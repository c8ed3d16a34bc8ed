#if canImport(Glibc)
import Glibc
#endif

/// A listening socket that never accepts. With `fillQueue`, its accept queue is full, so further
/// connection attempts get no SYN-ACK and a connect to it times out (a blackholed upstream, without
/// iptables). Without, connects succeed but nothing is ever read (an upstream that stops reading).
final class BlackholeListener {
    let port: Int
    private var fds: [Int32] = []

    init(fillQueue: Bool = true) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        listen(listener, fillQueue ? 0 : 16)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        fds.append(listener)
        // Fill the accept queue (backlog 0 holds one, Linux lets one more in): non-blocking connects.
        for _ in 0..<(fillQueue ? 4 : 0) {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) } }
            fds.append(client)
        }
        usleep(100_000)
    }

    deinit {
        for fd in fds { close(fd) }
    }
}

/// A loopback port that refuses connections: bound but not listening, and held for the test's
/// lifetime so that no other listener (another test's port 0) can take it meanwhile.
final class RefusingPort {
    let port: Int
    private let fd: Int32

    init() {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &length) } }
        fd = s
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
