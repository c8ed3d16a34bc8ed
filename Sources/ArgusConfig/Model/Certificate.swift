/// A server certificate for TLS at the edge (Kong's `certificates` entity): a PEM certificate
/// (chain) and its key, and optionally a second pair of the other key type (`cert_alt`/`key_alt`:
/// RSA and ECDSA side by side; a client gets the one it can verify).
public struct Certificate: Sendable, Equatable {
    public var id: String
    public var createdAt: Int
    public var updatedAt: Int
    public var cert: String
    public var key: String
    public var certAlt: String?
    public var keyAlt: String?
    public var tags: [String]?

    public init(
        id: String, createdAt: Int = 0, updatedAt: Int = 0, cert: String, key: String, certAlt: String? = nil, keyAlt: String? = nil,
        tags: [String]? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.cert = cert
        self.key = key
        self.certAlt = certAlt
        self.keyAlt = keyAlt
        self.tags = tags
    }
}

/// A server name a certificate is served for (Kong's `snis` entity): an exact host name, a
/// wildcard (`*.example.com`, `example.*`) or `*` for any name without a better match.
public struct SNI: Sendable, Equatable {
    public var id: String
    public var createdAt: Int
    public var updatedAt: Int
    public var name: String
    public var certificateID: String
    public var tags: [String]?

    public init(id: String, createdAt: Int = 0, updatedAt: Int = 0, name: String, certificateID: String, tags: [String]? = nil) {
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.name = name
        self.certificateID = certificateID
        self.tags = tags
    }
}
