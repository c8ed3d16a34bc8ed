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

/// TLS client contexts, one per verification mode and set of trusted CAs, shared by every loop and
/// by everything that speaks TLS to upstreams (the proxy's connections, active health probes).
/// A snapshot makes its services' contexts when it is built, off the event loops: with
/// verification against the system's roots, making one reads the whole trust store.
public final class TLSClientContexts: Sendable {
    public static let shared = TLSClientContexts()

    private struct Key: Hashable {
        var verify: Bool
        var trust: UpstreamTrust?
    }

    private let contexts = NIOLockedValueBox<[Key: NIOSSLContext]>([:])
    /// The settings the last ``keepOnly(_:)`` was given.
    private let generations = NIOLockedValueBox<Set<Key>>([])

    public init() {}

    public func context(verify: Bool, trust: UpstreamTrust?) throws -> NIOSSLContext {
        let key = Key(verify: verify, trust: verify ? trust : nil)
        if let context = contexts.withLockedValue({ $0[key] }) { return context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = verify ? .fullVerification : .none
        if let trust = key.trust { configuration.trustRoots = .certificates(trust.certificates) }
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
    public func keepOnly(_ used: [(verify: Bool, trust: UpstreamTrust?)]) {
        let keys = Set(used.map { Key(verify: $0.verify, trust: $0.verify ? $0.trust : nil) })
        generations.withLockedValue { previous in
            let kept = keys.union(previous)
            previous = keys
            contexts.withLockedValue { contexts in contexts = contexts.filter { kept.contains($0.key) || $0.key.trust == nil } }
        }
    }

    /// Whether a context for these settings is kept.
    public func has(verify: Bool, trust: UpstreamTrust?) -> Bool {
        contexts.withLockedValue { $0[Key(verify: verify, trust: verify ? trust : nil)] != nil }
    }
}
