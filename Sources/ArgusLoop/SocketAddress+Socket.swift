import Glibc
import NIOCore

extension SocketAddress {
    /// The address of a socket's peer (`getpeername`) or its own (`getsockname`): IPv4 or IPv6, else nil.
    public static func of(_ fd: Int32, peer: Bool) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        return SocketAddress(storage: storage)
    }

    /// An IPv4 or IPv6 address held in a `sockaddr_storage` (its family read from the first two
    /// bytes, in host order, so that no platform-specific member is named).
    public init?(storage: sockaddr_storage) {
        let family = withUnsafeBytes(of: storage) { Int32($0.load(as: sa_family_t.self)) }
        switch family {
        case AF_INET:
            self = withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee) } }
        case AF_INET6:
            self = withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee) } }
        default:
            return nil
        }
    }

    /// Every address `host` resolves to for TCP (`getaddrinfo`, blocking: call it off the event
    /// loops), in the resolver's order of preference.
    public static func resolveAll(host: String, port: Int) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, String(port), &hints, &list)
        guard code == 0, let first = list else {
            throw NameResolutionError(host: host, reason: String(cString: gai_strerror(code)))
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            if let raw = info.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: min(Int(info.pointee.ai_addrlen), target.count)))
                }
                if let address = SocketAddress(storage: storage), !addresses.contains(address) { addresses.append(address) }
            }
            next = info.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw NameResolutionError(host: host, reason: "no addresses") }
        return addresses
    }
}

/// A host name that did not resolve.
public struct NameResolutionError: Error, CustomStringConvertible {
    public var host: String
    public var reason: String
    public var description: String { "cannot resolve \(host): \(reason)" }
}
