import ArgusEvents

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An event's client address as text (`203.0.113.9`, `2001:db8::1`).
enum ClientAddressText {
    static func format(_ event: RequestEvent) -> String {
        let bytes = event.clientAddress.bytes
        switch event.addressFamily {
        case .ipv4:
            return bytes[12..<16].map(String.init).joined(separator: ".")
        case .ipv6:
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { raw in
                for i in 0..<16 { raw[i] = bytes[i] }
            }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return "" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        default:
            return ""
        }
    }
}
