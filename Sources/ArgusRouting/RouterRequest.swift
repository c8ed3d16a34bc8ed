/// What the router looks at in a request (kong-compat §2).
public struct RouterRequest: Sendable {
    /// The request method, e.g. `"GET"`, compared exactly with the routes' (upper-case) methods.
    public var method: String
    /// The Host header value as sent, port already stripped. Compared exactly and case-sensitively,
    /// like Kong (which does not lower-case it either).
    public var host: String
    /// Port for host entries written `host:port`. Kong uses the port of the Host header when the
    /// header carries one, otherwise the listener port the request arrived on.
    public var port: Int
    /// The request path, already normalised by `PathNormalizer`, without the query string.
    public var path: String
    /// The TLS server name when the request arrived over TLS (`""` for TLS without SNI); nil on plain
    /// HTTP. Routes with `snis` are only constrained for TLS requests, as Kong's
    /// `net.protocol != "https" || tls.sni == ...`.
    public var sni: String?

    public init(method: String, host: String, port: Int, path: String, sni: String? = nil) {
        self.method = method
        self.host = host
        self.port = port
        self.path = path
        self.sni = sni
    }
}

/// Read access to the request headers, for routes with `headers` conditions.
public protocol RouterHeaders {
    /// Every value of the request header with this lower-cased name, in order; [] if absent.
    func values(forLowercasedName name: String) -> [String]
}

/// A plain dictionary keyed by lower-cased header name works as request headers (handy in tests).
extension Dictionary: RouterHeaders where Key == String, Value == [String] {
    public func values(forLowercasedName name: String) -> [String] {
        self[name] ?? []
    }
}
