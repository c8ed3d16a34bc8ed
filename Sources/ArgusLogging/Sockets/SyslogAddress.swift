/// Where the syslog plugin writes (`--syslog-address`): a local datagram socket's path, or
/// `udp://HOST:PORT` (IPv6 in brackets).
public enum SyslogAddress: Sendable, Equatable {
    case local(path: String)
    case udp(host: String, port: Int)

    /// nil when `text` is neither an absolute path nor `udp://HOST:PORT` with a port in 1–65535.
    public init?(parsing text: String) {
        if text.hasPrefix("/") {
            self = .local(path: text)
            return
        }
        guard text.hasPrefix("udp://") else { return nil }
        let rest = text.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":"), rest.startIndex < colon, let port = Int(rest[rest.index(after: colon)...]),
              (1...65535).contains(port)
        else { return nil }
        var host = rest[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        self = .udp(host: String(host), port: port)
    }
}
