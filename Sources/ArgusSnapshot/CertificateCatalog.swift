import ArgusConfig
import ArgusTransport

/// Which certificate the edge serves for a client's server name, as Kong chooses
/// (`kong/runloop/certificate.lua`): the exact name, then the name with its first label a
/// wildcard (`*.example.com`, for names of three labels or more), then with its last label a
/// wildcard (`example.*`), then the `*` SNI, then the default certificate. A client that sends
/// no name gets the default. Names compare exactly, as Kong compares them.
public struct CertificateCatalog: Sendable {
    private let byName: [String: ServerCertificate]
    public let defaultCertificate: ServerCertificate?
    /// Certificates that could not be made ready (their SNIs fall back to the default), with why.
    public let problems: [(id: String, reason: String)]

    public static let empty = CertificateCatalog(byName: [:], defaultCertificate: nil, problems: [])

    private init(byName: [String: ServerCertificate], defaultCertificate: ServerCertificate?, problems: [(id: String, reason: String)]) {
        self.byName = byName
        self.defaultCertificate = defaultCertificate
        self.problems = problems
    }

    /// Makes (or finds in `contexts`) a server context for every certificate an SNI points at.
    public init(config: DeclarativeConfig, defaultCertificate: ServerCertificate?, contexts: TLSServerContexts) {
        var made: [String: ServerCertificate] = [:]
        var problems: [(id: String, reason: String)] = []
        let used = Set(config.snis.map(\.certificateID))
        for certificate in config.certificates where used.contains(certificate.id) {
            do {
                made[certificate.id] = try contexts.certificate(
                    id: certificate.id, cert: certificate.cert, key: certificate.key, certAlt: certificate.certAlt,
                    keyAlt: certificate.keyAlt, primaryIsECDSA: CertificateRules.isECDSA(certificate.cert))
            } catch {
                problems.append((certificate.id, error.description))
            }
        }
        var byName: [String: ServerCertificate] = [:]
        for sni in config.snis {
            if let certificate = made[sni.certificateID] { byName[sni.name] = certificate }
        }
        contexts.keepOnly(Array(made.values) + (defaultCertificate.map { [$0] } ?? []))
        self.init(byName: byName, defaultCertificate: defaultCertificate, problems: problems)
    }

    /// The certificate for a client's ClientHello; nil when nothing matches and there is no default.
    public func certificate(for hello: ClientHello) -> ServerCertificate? {
        guard let name = hello.serverName, !name.isEmpty else { return defaultCertificate }
        for candidate in Self.candidates(name) {
            if let certificate = byName[candidate] { return certificate }
        }
        return defaultCertificate
    }

    /// The SNI names tried for `name`, in Kong's order.
    static func candidates(_ name: String) -> [String] {
        var out = [name]
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if name.hasPrefix("*") {
            out.append(name)
        } else if labels.count >= 3, !labels[0].isEmpty {
            out.append("*." + labels.dropFirst().joined(separator: "."))
        }
        if name.hasSuffix("*") {
            out.append(name)
        } else if labels.count >= 2, let last = labels.last, !last.isEmpty {
            out.append(labels.dropLast().joined(separator: ".") + ".*")
        }
        out.append("*")
        return out
    }
}
