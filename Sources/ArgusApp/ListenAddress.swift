/// `HOST:PORT [flags]` as given on the command line or in `ARGUS_*_LISTEN` (IPv6 as `[::1]:8000`),
/// in Kong's `proxy_listen` syntax: several listeners separated by commas, each with nginx's
/// `listen` flags (`0.0.0.0:8000, 0.0.0.0:8443 ssl`).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The listener terminates TLS.
    public var ssl: Bool
    /// The listener speaks HTTP/2 too: `h2` by ALPN with `ssl`, h2c with prior knowledge without.
    public var http2: Bool
    /// Each connection starts with a PROXY protocol header (v1 or v2) from a load balancer.
    public var proxyProtocol = false

    /// Flags of nginx's `listen` Kong users write; those Argus has no use for are accepted and
    /// ignored (`reuseport`, `backlog=N`, `deferred`, `bind`).
    static let ignoredFlags = ["reuseport", "deferred", "bind"]

    public init(host: String, port: Int, ssl: Bool = false, http2: Bool = false) {
        self.host = host
        self.port = port
        self.ssl = ssl
        self.http2 = http2
    }

    /// - Throws: `StartupError` when the text is not `HOST:PORT` with a port in 0–65535 and known flags.
    public init(parsing text: String) throws(StartupError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let address = words.first, let colon = address.lastIndex(of: ":") else {
            throw StartupError("invalid listen address '\(text)': expected HOST:PORT")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw StartupError("invalid listen address '\(text)': expected HOST:PORT")
        }
        self.init(host: host, port: port)
        for flag in words.dropFirst() {
            if flag == "ssl" {
                ssl = true
            } else if flag == "http2" {
                http2 = true
            } else if flag == "proxy_protocol" {
                proxyProtocol = true
            } else if !Self.ignoredFlags.contains(flag) && !flag.hasPrefix("backlog=") {
                throw StartupError("invalid listen flag '\(flag)' in '\(text)': expected ssl, http2, proxy_protocol, reuseport, backlog=N, deferred or bind")
            }
        }
    }

    /// A comma-separated list of listeners (`off` is none).
    public static func list(parsing text: String) throws(StartupError) -> [ListenAddress] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: [" ", "\t"]) }.filter { !$0.isEmpty }
        if parts == ["off"] { return [] }
        guard !parts.isEmpty else { throw StartupError("invalid listen address '\(text)': expected HOST:PORT") }
        var out: [ListenAddress] = []
        for part in parts { out.append(try ListenAddress(parsing: part)) }
        return out
    }

    public var description: String {
        (host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)") + (http2 ? " http2" : "") + (ssl ? " ssl" : "")
            + (proxyProtocol ? " proxy_protocol" : "")
    }
}

/// Why the gateway could not start, in one line.
public struct StartupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = self
        while let first = s.first, set.contains(first) { s = s.dropFirst() }
        while let last = s.last, set.contains(last) { s = s.dropLast() }
        return String(s)
    }
}
