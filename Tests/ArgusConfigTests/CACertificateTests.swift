import Foundation
import Testing
@testable import ArgusConfig

/// `ca_certificates` entities (Kong's checks: one certificate, parseable, not expired, a CA) and
/// services that reference them.
@Suite struct CACertificateTests {
    // Tests/Fixtures/tls (see its README): a CA valid until 2126, a certificate without the CA
    // constraint, and a CA that expired in 2021.
    static func fixture(_ name: String) -> String {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: tests.appendingPathComponent("Fixtures/tls/\(name).pem"), encoding: .utf8)) ?? ""
    }

    static let ca = fixture("ca")
    static let leaf = fixture("leaf")
    static let expired = fixture("expired")
    static let digest = "69b743c087779f0e7780aef7e9156544709b1e3a4b9c587426cad99760bc6a25"

    static func document(_ pem: String, service: String = "") -> String {
        let indented = pem.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n")
        return """
            _format_version: "3.0"
            ca_certificates:
              - id: 5d5a1d86-3b8e-4c57-9b0a-6a3a5f1c0a11
                cert: |
            \(indented)
            \(service)
            """
    }

    @Test func aCACertificateLoadsWithItsDigestAndServicesTrustIt() throws {
        let config = try load(Self.document(Self.ca, service: """
            services:
              - name: secure
                url: https://internal.example
                tls_verify: true
                ca_certificates: [5d5a1d86-3b8e-4c57-9b0a-6a3a5f1c0a11]
            """))
        let ca = try #require(config.caCertificates.first)
        #expect(ca.certDigest == Self.digest)
        #expect(ca.cert.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(config.services.first?.caCertificates == [ca.id])
        // shown and exported as Kong does
        #expect(EntityJSON.entities("ca_certificates", in: config).first?["cert_digest"] == .string(Self.digest))
        #expect(EntityJSON.service(config.services[0])["ca_certificates"] == .array([.string(ca.id)]))
        #expect(EntityJSON.document(config)["ca_certificates"]?.arrayValue?.count == 1)
    }

    @Test(arguments: [
        (Self.leaf, "ca_certificates[0]", "certificate does not appear to be a CA because it is missing the \"CA\" basic constraint"),
        (Self.expired, "ca_certificates[0]", "certificate expired, \"Not After\" time is in the past"),
        (Self.ca + "\n" + Self.ca, "ca_certificates[0]", "please submit only one certificate at a time"),
    ])
    func certificatesKongRefuses(pem: String, path: String, message: String) {
        #expect(errors(Self.document(pem)).map { "\($0.path): \($0.message)" } == ["\(path): \(message)"])
    }

    @Test func somethingThatIsNotACertificate() {
        let found = errors(Self.document("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----"))
        #expect(found.count == 1 && found.first?.path == "ca_certificates[0].cert")
        #expect(found.first?.message.hasPrefix("invalid certificate: ") == true)
    }
}
