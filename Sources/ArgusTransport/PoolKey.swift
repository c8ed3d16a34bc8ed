/// Where an upstream connection goes: a resolved target, and TLS for an `https` service.
public struct PoolKey: Hashable, Sendable {
    public var host: String
    public var port: Int
    /// nil: plain HTTP. Connections are pooled per server name and verification, so a connection
    /// is only reused for requests that would have made the same handshake.
    public var tls: UpstreamTLS?
    /// The connection speaks HTTP/2 (a `grpc`/`grpcs` service): its requests are streams of a
    /// shared connection rather than turns of a keep-alive one.
    public var http2: Bool

    public init(host: String, port: Int, tls: UpstreamTLS? = nil, http2: Bool = false) {
        self.host = host
        self.port = port
        self.tls = tls
        self.http2 = http2
    }
}

/// How Argus speaks TLS to an upstream (Kong: `proxy_ssl_server_name on`, `proxy_ssl_name` =
/// the Host sent upstream, `proxy_ssl_verify` from the service's `tls_verify`, off by default).
public struct UpstreamTLS: Hashable, Sendable {
    /// SNI: the upstream Host without its port; nil for an IP address (SNI carries names only).
    public var serverName: String?
    /// Verify the certificate chain and the name: against `trust` when set, else the system's roots.
    public var verify: Bool
    public var trust: UpstreamTrust?
    /// The certificate presented when the upstream asks for one (the service's `client_certificate`).
    public var identity: ClientIdentity?

    public init(serverName: String?, verify: Bool, trust: UpstreamTrust? = nil, identity: ClientIdentity? = nil) {
        self.serverName = serverName
        self.verify = verify
        self.trust = trust
        self.identity = identity
    }

    /// The server name for a `Host` header value (`name`, `name:port`, `[v6]:port`, `1.2.3.4`, or
    /// a bare IPv6 address from a service host): lower-cased, without a trailing dot; nil for an
    /// IP address.
    public static func serverName(forHost host: String) -> String? {
        if host.hasPrefix("[") || host.utf8.filter({ $0 == UInt8(ascii: ":") }).count > 1 { return nil }
        var name = Substring(host)
        if let colon = name.lastIndex(of: ":"), name[name.index(after: colon)...].allSatisfy(\.isASCIIDigit) {
            name = name[..<colon]
        }
        if name.hasSuffix(".") { name = name.dropLast() }
        if name.isEmpty || IPv4Literal.isIPv4(name) { return nil }
        return name.lowercased()
    }
}

enum IPv4Literal {
    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCIIDigit) }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
