import ArgusConfig
import ArgusTransport
import Foundation
import Testing

@testable import ArgusSnapshot

/// Which certificate a server name gets: the cases of Kong's `05-proxy/06-ssl_spec.lua` and
/// `24-runloop_certificate_spec.lua`.
@Suite struct CertificateCatalogTests {
    static func fixture(_ name: String) -> String {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: tests.appendingPathComponent("Fixtures/tls/\(name)"), encoding: .utf8)) ?? ""
    }

    static let a = "aaaaaaaa-0000-4000-8000-000000000001", b = "bbbbbbbb-0000-4000-8000-000000000002"
    static let c = "cccccccc-0000-4000-8000-000000000003"

    static func config(_ snis: [(String, String)], certificates: [String] = [a, b, c]) -> DeclarativeConfig {
        let cert = fixture("server-rsa.pem"), key = fixture("server-rsa.key")
        return DeclarativeConfig(
            certificates: certificates.map { Certificate(id: $0, cert: cert, key: key) },
            snis: snis.enumerated().map { i, pair in SNI(id: "dddddddd-0000-4000-8000-00000000000\(i)", name: pair.0, certificateID: pair.1) })
    }

    static func catalog(_ snis: [(String, String)]) throws -> CertificateCatalog {
        let contexts = TLSServerContexts()
        let fallback = try contexts.certificate(
            id: "default", cert: fixture("server-ecdsa.pem"), key: fixture("server-ecdsa.key"), primaryIsECDSA: true)
        return CertificateCatalog(config: config(snis), defaultCertificate: fallback, contexts: contexts)
    }

    static func served(_ catalog: CertificateCatalog, _ name: String?) -> String? {
        catalog.certificate(for: ClientHello(serverName: name))?.id
    }

    @Test func wildcardsInKongsOrder() throws {
        let catalog = try Self.catalog([
            ("*.wildcard.com", Self.a), ("wildcard.*", Self.a), ("wildcard.org", Self.b), ("test.wildcard.*", Self.b),
            ("*.www.wildcard.com", Self.b), ("ssl1.com", Self.c),
        ])
        #expect(Self.served(catalog, "test.wildcard.com") == Self.a)  // the prefix wildcard beats the suffix one
        #expect(Self.served(catalog, "wildcard.eu") == Self.a)
        #expect(Self.served(catalog, "wildcard.org") == Self.b)
        #expect(Self.served(catalog, "test.wildcard.org") == Self.b)
        #expect(Self.served(catalog, "test.www.wildcard.com") == Self.b)
        #expect(Self.served(catalog, "ssl1.com") == Self.c)
        #expect(Self.served(catalog, "SSL1.com") == "default")  // names compare exactly, as in Kong
        #expect(Self.served(catalog, "test.com") == "default")
        #expect(Self.served(catalog, "wildcard.com") == Self.a)  // not `*.wildcard.com` (no first label), but `wildcard.*`
    }

    @Test func theStarSNIIsTheLastResortButNotForClientsWithoutAName() throws {
        let catalog = try Self.catalog([("*", Self.c), ("a.test", Self.a)])
        #expect(Self.served(catalog, "example.com") == Self.c)
        #expect(Self.served(catalog, "a.test") == Self.a)
        #expect(Self.served(catalog, nil) == "default")
    }

    @Test func candidates() {
        #expect(CertificateCatalog.candidates("www.domain.test") == ["www.domain.test", "*.domain.test", "www.domain.*", "*"])
        #expect(CertificateCatalog.candidates("domain.test") == ["domain.test", "domain.*", "*"])
        #expect(CertificateCatalog.candidates("localhost") == ["localhost", "*"])
    }

    @Test func aCertificateWithAnAlternativeServesTheKeyTypeTheClientTakes() throws {
        let contexts = TLSServerContexts()
        let both = try contexts.certificate(
            id: Self.a, cert: Self.fixture("server-rsa.pem"), key: Self.fixture("server-rsa.key"),
            certAlt: Self.fixture("server-ecdsa.pem"), keyAlt: Self.fixture("server-ecdsa.key"), primaryIsECDSA: false)
        #expect(both.context(for: ClientHello(acceptsECDSA: true)) !== both.context(for: ClientHello(acceptsECDSA: false)))
        // the same texts make the same context (a reload does not rebuild it)
        let again = try contexts.certificate(
            id: Self.a, cert: Self.fixture("server-rsa.pem"), key: Self.fixture("server-rsa.key"),
            certAlt: Self.fixture("server-ecdsa.pem"), keyAlt: Self.fixture("server-ecdsa.key"), primaryIsECDSA: false)
        #expect(again === both)
    }
}
