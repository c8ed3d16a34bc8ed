import NIOConcurrencyHelpers
import NIOSSL

/// A certificate the edge serves, ready for handshakes: one server context per key pair (the
/// certificate and, when configured, its alternative of the other key type).
public final class ServerCertificate: Sendable {
    /// The `certificates` entity's id (or `default`).
    public let id: String
    let primary: NIOSSLContext
    let primaryIsECDSA: Bool
    let alternative: NIOSSLContext?
    /// The same pairs offering `h2` first by ALPN, for listeners flagged `http2`.
    let primaryH2: NIOSSLContext
    let alternativeH2: NIOSSLContext?
    /// The certificate's `Not After` (seconds since the epoch); the earliest of the two pairs.
    public let notValidAfter: Int
    /// What the contexts cache knows it by (its id and texts).
    let cacheKey: String

    init(
        id: String, cacheKey: String, primary: (NIOSSLContext, NIOSSLContext), primaryIsECDSA: Bool,
        alternative: (NIOSSLContext, NIOSSLContext)?, notValidAfter: Int
    ) {
        self.id = id
        self.cacheKey = cacheKey
        (self.primary, self.primaryH2) = primary
        self.primaryIsECDSA = primaryIsECDSA
        self.alternative = alternative?.0
        self.alternativeH2 = alternative?.1
        self.notValidAfter = notValidAfter
    }

    /// The context for a client: its key type when it has two (ECDSA for a client that can verify
    /// it, as OpenSSL prefers the ECDSA one when nginx has both), else the only one.
    /// `http2`: the listener speaks HTTP/2 too (ALPN offers `h2`, then `http/1.1`).
    public func context(for hello: ClientHello, http2: Bool = false) -> NIOSSLContext {
        guard let alternative, let alternativeH2 else { return http2 ? primaryH2 : primary }
        let usePrimary = hello.acceptsECDSA == primaryIsECDSA
        if http2 { return usePrimary ? primaryH2 : alternativeH2 }
        return usePrimary ? primary : alternative
    }
}

/// What a certificate or key could not be used for, in Kong's words where Kong has some.
public struct ServerCertificateError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// The server contexts of the edge's certificates, made once per certificate and key (a reload
/// or a DNS change rebuilds the snapshot, not the contexts; new handshakes use a replaced
/// certificate at once, open connections keep theirs). Sessions resume on a context's own cache
/// and ticket keys, so they survive reloads that keep the certificate.
public final class TLSServerContexts: Sendable {
    /// TLS 1.2 suites of Mozilla's "intermediate" profile that BoringSSL has (TLS 1.3's are fixed).
    public static let cipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    public static let shared = TLSServerContexts()

    private let certificates = NIOLockedValueBox<[String: ServerCertificate]>([:])
    private let generations = NIOLockedValueBox<Set<String>>([])
    /// ALPN protocols offered, in preference order.
    public let applicationProtocols: [String]

    public init(applicationProtocols: [String] = ["http/1.1"]) {
        self.applicationProtocols = applicationProtocols
    }

    /// The certificate for these PEM texts (made, or the one made before for the same texts).
    /// `primaryIsECDSA`: the key type of `cert` (the alternative pair is of the other one).
    public func certificate(
        id: String, cert: String, key: String, certAlt: String? = nil, keyAlt: String? = nil, primaryIsECDSA: Bool
    ) throws(ServerCertificateError) -> ServerCertificate {
        let cacheKey = Self.cacheKey(id: id, [cert, key, certAlt ?? "", keyAlt ?? ""])
        if let made = certificates.withLockedValue({ $0[cacheKey] }) { return made }
        let (primary, primaryH2, primaryExpiry) = try context(cert: cert, key: key)
        var alternative: (NIOSSLContext, NIOSSLContext)?
        var expiry = primaryExpiry
        if let certAlt, let keyAlt {
            let made = try context(cert: certAlt, key: keyAlt)
            alternative = (made.context, made.http2)
            expiry = min(expiry, made.notValidAfter)
        }
        let certificate = ServerCertificate(
            id: id, cacheKey: cacheKey, primary: (primary, primaryH2), primaryIsECDSA: primaryIsECDSA, alternative: alternative,
            notValidAfter: expiry)
        return certificates.withLockedValue { certificates in
            if let existing = certificates[cacheKey] { return existing }
            certificates[cacheKey] = certificate
            return certificate
        }
    }

    /// Forgets the certificates neither `used` (those the snapshot just built serves) nor the
    /// previous call's name (handshakes under the snapshot being replaced may still use theirs):
    /// a certificate replaced under the same id lets its old context go.
    public func keepOnly(_ used: [ServerCertificate]) {
        let keys = Set(used.map(\.cacheKey))
        generations.withLockedValue { previous in
            let kept = keys.union(previous)
            previous = keys
            certificates.withLockedValue { certificates in certificates = certificates.filter { kept.contains($0.key) } }
        }
    }

    public var count: Int { certificates.withLockedValue { $0.count } }

    /// The pair's context, and the same offering `h2` first.
    private func context(cert: String, key: String) throws(ServerCertificateError) -> (
        context: NIOSSLContext, http2: NIOSSLContext, notValidAfter: Int
    ) {
        let chain: [NIOSSLCertificate]
        let privateKey: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(cert.utf8))
            privateKey = try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem)
        } catch {
            throw ServerCertificateError(description: "invalid certificate or key: \(error)")
        }
        guard let leaf = chain.first else { throw ServerCertificateError(description: "invalid certificate: no certificate found") }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = Self.cipherSuites
        configuration.applicationProtocols = applicationProtocols
        do {
            let context = try NIOSSLContext(configuration: configuration)
            configuration.applicationProtocols = ["h2"] + applicationProtocols.filter { $0 != "h2" }
            let http2 = try NIOSSLContext(configuration: configuration)
            return (context, http2, Int(leaf.notValidAfter))
        } catch {
            throw ServerCertificateError(description: "certificate does not match key")
        }
    }

    private static func cacheKey(id: String, _ parts: [String]) -> String {
        ([id] + parts).joined(separator: "\u{0}")
    }
}
