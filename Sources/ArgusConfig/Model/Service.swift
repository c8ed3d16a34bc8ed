/// A Kong Service: where matched traffic goes (kong-compat §1.1). Durations are milliseconds.
public struct Service: Sendable, Equatable {
    public var id: String
    public var createdAt: Int
    public var updatedAt: Int
    public var name: String?
    /// `http https grpc grpcs tcp tls tls_passthrough udp`; default `http`.
    public var `protocol`: String
    public var host: String
    /// Default 80 (the `url` shorthand defaults by scheme: 80/443).
    public var port: Int
    public var path: String?
    /// Extra attempts after the first; default 5.
    public var retries: Int
    public var connectTimeout: Int
    public var writeTimeout: Int
    public var readTimeout: Int
    public var tags: [String]?
    public var tlsVerify: Bool?
    public var tlsVerifyDepth: Int?
    /// Ids of the CA certificates a `tls_verify` service trusts (nil: the system's roots).
    public var caCertificates: [String]?
    /// The certificate Argus presents to a TLS upstream that asks for one (mutual TLS).
    public var clientCertificateID: String?
    public var enabled: Bool

    public init(
        id: String, createdAt: Int = 0, updatedAt: Int = 0, name: String? = nil, protocol: String = "http",
        host: String, port: Int = 80, path: String? = nil, retries: Int = 5, connectTimeout: Int = 60000,
        writeTimeout: Int = 60000, readTimeout: Int = 60000, tags: [String]? = nil, tlsVerify: Bool? = nil,
        tlsVerifyDepth: Int? = nil, caCertificates: [String]? = nil, clientCertificateID: String? = nil, enabled: Bool = true
    ) {
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.name = name
        self.protocol = `protocol`
        self.host = host
        self.port = port
        self.path = path
        self.retries = retries
        self.connectTimeout = connectTimeout
        self.writeTimeout = writeTimeout
        self.readTimeout = readTimeout
        self.tags = tags
        self.tlsVerify = tlsVerify
        self.tlsVerifyDepth = tlsVerifyDepth
        self.caCertificates = caCertificates
        self.clientCertificateID = clientCertificateID
        self.enabled = enabled
    }
}
