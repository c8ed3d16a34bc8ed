import Foundation
import NIOConcurrencyHelpers
import NIOSSL

/// The CA certificates an upstream is trusted by (a service's `ca_certificates`), parsed once per
/// config; equal when they are the same certificates.
public final class UpstreamTrust: Hashable, Sendable {
    /// The certificates' digests, in order: what identifies this set.
    public let digests: [String]
    public let certificates: [NIOSSLCertificate]

    private init(digests: [String], certificates: [NIOSSLCertificate]) {
        self.digests = digests
        self.certificates = certificates
    }

    /// nil for no certificates. They were validated when the config was loaded; one that would
    /// not parse is left out, never replaced by the system's roots (none left: nothing verifies).
    public static func make(_ certificates: [(digest: String, pem: String)]) -> UpstreamTrust? {
        guard !certificates.isEmpty else { return nil }
        let parsed = certificates.compactMap { try? NIOSSLCertificate.fromPEMBytes(Array($0.pem.utf8)).first }
        return UpstreamTrust(digests: certificates.map(\.digest), certificates: parsed)
    }

    public static func == (a: UpstreamTrust, b: UpstreamTrust) -> Bool { a.digests == b.digests }
    public func hash(into hasher: inout Hasher) { hasher.combine(digests) }
}

/// The certificate Argus presents to an upstream that asks for one (a service's
/// `client_certificate`), parsed once per config; equal when it is the same certificate entity
/// with the same texts.
public final class ClientIdentity: Hashable, Sendable {
    /// The `certificates` entity's id and a digest of its texts: what identifies it.
    public let key: String
    public let chain: [NIOSSLCertificate]
    public let privateKey: NIOSSLPrivateKey

    public init(id: String, cert: String, key: String) throws {
        chain = try NIOSSLCertificate.fromPEMBytes(Array(cert.utf8))
        privateKey = try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem)
        // the texts themselves: Hasher is seeded per process, but the key only lives in this one
        self.key = id + "\u{0}" + cert + "\u{0}" + key
    }

    public static func == (a: ClientIdentity, b: ClientIdentity) -> Bool { a.key == b.key }
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }
}

/// The CAs Argus trusts when it verifies a peer without CA certificates of its own (Kong's
/// `lua_ssl_trusted_certificate`): the system's roots, PEM files, or both.
public struct TrustedCAs: Sendable, Equatable {
    public var system: Bool
    public var certificates: [NIOSSLCertificate]

    public static let systemRoots = TrustedCAs(system: true, certificates: [])

    public init(system: Bool, certificates: [NIOSSLCertificate]) {
        self.system = system
        self.certificates = certificates
    }

    /// `system` and/or PEM files, comma-separated (`--trusted-ca`).
    public init(parsing text: String) throws {
        var system = false
        var certificates: [NIOSSLCertificate] = []
        for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            if entry == "system" {
                system = true
            } else {
                certificates += try NIOSSLCertificate.fromPEMFile(entry)
            }
        }
        self.init(system: system, certificates: certificates)
    }

    func apply(to configuration: inout TLSConfiguration) {
        if system {
            if !certificates.isEmpty { configuration.additionalTrustRoots = [.certificates(certificates)] }
        } else {
            configuration.trustRoots = .certificates(certificates)
        }
    }
}

/// TLS client contexts, one per verification mode and set of trusted CAs, shared by every loop and
/// by everything that speaks TLS to upstreams (the proxy's connections, active health probes).
/// A snapshot makes its services' contexts when it is built, off the event loops: with
/// verification against the system's roots, making one reads the whole trust store.
public final class TLSClientContexts: Sendable {
    public static let shared = TLSClientContexts()

    private struct Key: Hashable {
        var verify: Bool
        var trust: UpstreamTrust?
        var identity: ClientIdentity?
        /// ALPN offers `h2` (a gRPC upstream).
        var http2 = false
    }

    /// What verification trusts when a peer has no CA certificates of its own (set at start).
    private let trustedCAs = NIOLockedValueBox(TrustedCAs.systemRoots)

    /// Sets the CAs verification trusts by default (forgets the contexts made with the previous ones).
    public func setTrustedCAs(_ cas: TrustedCAs) {
        trustedCAs.withLockedValue { $0 = cas }
        contexts.withLockedValue { $0.removeAll() }
    }

    private let contexts = NIOLockedValueBox<[Key: NIOSSLContext]>([:])
    /// The settings the last ``keepOnly(_:)`` was given.
    private let generations = NIOLockedValueBox<Set<Key>>([])

    public init() {}

    /// - Parameter http2: offer `h2` by ALPN (a `grpcs` service's connections speak HTTP/2).
    public func context(verify: Bool, trust: UpstreamTrust?, identity: ClientIdentity? = nil, http2: Bool = false) throws -> NIOSSLContext {
        let key = Key(verify: verify, trust: verify ? trust : nil, identity: identity, http2: http2)
        if let context = contexts.withLockedValue({ $0[key] }) { return context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = verify ? .fullVerification : .none
        if let trust = key.trust {
            configuration.trustRoots = .certificates(trust.certificates)
        } else if verify {
            trustedCAs.withLockedValue { $0 }.apply(to: &configuration)
        }
        if let identity {
            configuration.certificateChain = identity.chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(identity.privateKey)
        }
        if http2 { configuration.applicationProtocols = ["h2"] }
        let context = try NIOSSLContext(configuration: configuration)
        return contexts.withLockedValue { contexts in
            if let existing = contexts[key] { return existing }
            contexts[key] = context
            return context
        }
    }

    /// Forgets every context that neither `used` (the TLS settings of the services of the
    /// snapshot just built) nor the previous call's settings need, so that CA sets configured
    /// once and since removed do not stay in memory. One generation is kept on purpose: requests
    /// still running under the snapshot being replaced find their contexts (rather than make them
    /// again on an event loop, which for the system's roots means reading the trust store). The
    /// contexts without a CA set (verification against the system's roots, or none) stay.
    public func keepOnly(_ used: [(verify: Bool, trust: UpstreamTrust?, identity: ClientIdentity?)]) {
        let keys = Set(used.map { Key(verify: $0.verify, trust: $0.verify ? $0.trust : nil, identity: $0.identity) })
        generations.withLockedValue { previous in
            let kept = keys.union(previous)
            previous = keys
            contexts.withLockedValue { contexts in
                contexts = contexts.filter { kept.contains($0.key) || ($0.key.trust == nil && $0.key.identity == nil) }
            }
        }
    }

    /// Whether a context for these settings is kept.
    public func has(verify: Bool, trust: UpstreamTrust?, identity: ClientIdentity? = nil) -> Bool {
        contexts.withLockedValue { $0[Key(verify: verify, trust: verify ? trust : nil, identity: identity)] != nil }
    }
}
