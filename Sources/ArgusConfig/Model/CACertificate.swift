/// A trusted CA certificate (Kong's `ca_certificates` entity): services with `tls_verify` verify
/// their upstream's certificate against the ones they list in `ca_certificates`.
public struct CACertificate: Sendable, Equatable {
    public var id: String
    public var createdAt: Int
    public var updatedAt: Int
    /// One PEM certificate with the `CA` basic constraint, not expired.
    public var cert: String
    /// Hex SHA-256 of the certificate's DER bytes (computed, like Kong's).
    public var certDigest: String
    public var tags: [String]?

    public init(id: String, createdAt: Int = 0, updatedAt: Int = 0, cert: String, certDigest: String, tags: [String]? = nil) {
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.cert = cert
        self.certDigest = certDigest
        self.tags = tags
    }
}
