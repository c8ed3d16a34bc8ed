import Foundation
import Testing
@testable import ArgusConfig

/// `certificates` and `snis` (Kong's `certificates.lua`/`snis.lua` checks and the cases of
/// `spec/01-unit/01-db/01-schema/11-snis_spec.lua`).
@Suite struct CertificateTests {
    static func fixture(_ name: String) -> String {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: tests.appendingPathComponent("Fixtures/tls/\(name)"), encoding: .utf8)) ?? ""
    }

    static let rsa = (cert: fixture("server-rsa.pem"), key: fixture("server-rsa.key"))
    static let ecdsa = (cert: fixture("server-ecdsa.pem"), key: fixture("server-ecdsa.key"))

    static func document(_ certificates: [JSONValue], snis: [JSONValue] = []) -> String {
        var root: [String: JSONValue] = ["_format_version": .string("3.0"), "certificates": .array(certificates)]
        if !snis.isEmpty { root["snis"] = .array(snis) }
        return JSONText.encode(.object(root))
    }

    static func certificate(
        _ pair: (cert: String, key: String) = rsa, alt: (cert: String, key: String)? = nil, snis: [String] = [], id: String? = nil
    ) -> JSONValue {
        var fields: [String: JSONValue] = ["cert": .string(pair.cert), "key": .string(pair.key)]
        if let alt {
            fields["cert_alt"] = .string(alt.cert)
            fields["key_alt"] = .string(alt.key)
        }
        if !snis.isEmpty { fields["snis"] = .array(snis.map { .object(["name": .string($0)]) }) }
        if let id { fields["id"] = .string(id) }
        return .object(fields)
    }

    @Test func aCertificateWithNestedSNIsAndAnAlternativeLoads() throws {
        let config = try load(Self.document([Self.certificate(alt: Self.ecdsa, snis: ["a.test", "*.b.test"])]))
        #expect(config.certificates.count == 1)
        #expect(config.certificates[0].certAlt == Self.ecdsa.cert)
        #expect(config.snis.map(\.name) == ["a.test", "*.b.test"])
        #expect(config.snis.allSatisfy { $0.certificateID == config.certificates[0].id })
    }

    @Test func topLevelSNIsReferenceTheirCertificateByID() throws {
        let id = "d83994d2-c24c-4315-b431-ee76b6611dcb"
        let config = try load(Self.document(
            [Self.certificate(id: id)], snis: [.object(["name": .string("foo.example"), "certificate": .string(id)])]))
        #expect(config.snis.first?.certificateID == id)
        let dangling = errors(Self.document(
            [Self.certificate(id: id)],
            snis: [.object(["name": .string("foo.example"), "certificate": .string("aaaaaaaa-c24c-4315-b431-ee76b6611dcb")])]))
        #expect(dangling.map(\.message) == [
            "invalid reference 'certificate: aaaaaaaa-c24c-4315-b431-ee76b6611dcb' (no such entry in 'certificates')",
        ])
    }

    @Test func kongsEntityChecks() {
        func messages(_ certificate: JSONValue) -> [String] { errors(Self.document([certificate])).map(\.message) }
        #expect(messages(.object(["cert": .string(Self.rsa.cert), "key": .string(Self.ecdsa.key)])) == ["certificate does not match key"])
        #expect(messages(.object([
            "cert": .string(Self.rsa.cert), "key": .string(Self.rsa.key), "cert_alt": .string(Self.ecdsa.cert),
        ])) == ["all or none of these fields must be set: 'cert_alt', 'key_alt'"])
        #expect(messages(Self.certificate(alt: (Self.ecdsa.cert, Self.rsa.key))) == ["alternative certificate does not match key"])
        #expect(messages(Self.certificate(alt: Self.rsa)) == [
            "certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), the provided certificates were both of the same type",
        ])
        #expect(messages(.object(["cert": .string("not a pem"), "key": .string(Self.rsa.key)])).first?.hasPrefix("invalid certificate: ") == true)
        #expect(messages(.object(["cert": .string(Self.rsa.cert), "key": .string("nope")])).first?.hasPrefix("invalid key: ") == true)
        let missing = errors(Self.document([.object([:])]))
        #expect(Set(missing.map { "\($0.path): \($0.message)" }) == [
            "certificates[0].cert: required field missing", "certificates[0].key: required field missing",
        ])
    }

    // 11-snis_spec.lua
    @Test(arguments: ["valid.name", "*", "*.wildcard.com", "wildcard.*", "test.wildcard.*", "*.test.wildcard.com"])
    func acceptedNames(_ name: String) {
        #expect(errors(Self.document([Self.certificate(snis: [name])])).isEmpty)
    }

    @Test(arguments: [
        ("foo.*.com", "wildcard must be leftmost or rightmost character"),
        ("*.example.*", "only one wildcard must be specified"),
        ("*.*.wildcard.*", "only one wildcard must be specified"),
        ("*.foo.*.wildcard.com", "only one wildcard must be specified"),
        ("valid.name:8000", "must not have a port"),
        ("127.0.0.1", "must not be an IP"),
        ("10.0.0.1:8001", "must not be an IP"),
        ("::1", "must not be an IP"),
        ("example^com", "invalid value: example^com"),
    ])
    func refusedNames(_ name: String, _ message: String) {
        #expect(errors(Self.document([Self.certificate(snis: [name])])).map(\.message) == [message])
    }

    @Test func anSNINameIsUniqueAcrossCertificates() {
        let found = errors(Self.document([Self.certificate(snis: ["a.test"]), Self.certificate(Self.ecdsa, snis: ["a.test"])]))
        #expect(found.map(\.message) == ["uniqueness violation: 'snis' entity with name set to 'a.test' already declared"])
    }

    @Test func theDocumentRoundTripsWithSNIsAtTheTopLevel() throws {
        let config = try load(Self.document([Self.certificate(alt: Self.ecdsa, snis: ["a.test"])]))
        let document = EntityJSON.document(config)
        #expect(document["certificates"]?.arrayValue?.first?["snis"] == nil)
        #expect(document["snis"]?.arrayValue?.first?["name"]?.stringValue == "a.test")
        let again = try load(JSONText.encode(document))
        #expect(again.certificates == config.certificates)
        #expect(again.snis == config.snis)
        // the Admin API shows a certificate with its names
        #expect(EntityJSON.entities("certificates", in: config).first?["snis"] == .array([.string("a.test")]))
    }

    @Test func aServiceNamesItsClientCertificate() throws {
        let id = "d83994d2-c24c-4315-b431-ee76b6611dcb"
        var root = try #require(try ConfigLoader.parseValue(text: Self.document([Self.certificate(id: id)])))
        guard case .object(var fields) = root else { return }
        fields["services"] = .array([.object([
            "name": .string("s"), "url": .string("https://example.test"), "client_certificate": .object(["id": .string(id)]),
        ])])
        root = .object(fields)
        let config = try load(JSONText.encode(root))
        #expect(config.services.first?.clientCertificateID == id)
        #expect(EntityJSON.service(config.services[0])["client_certificate"] == .object(["id": .string(id)]))
    }
}

/// request-transformer templates Argus can not evaluate are refused at load, naming them.
@Suite struct TransformerTemplateTests {
    @Test(arguments: [
        "$(headers.x)", "$(headers[\"x-y\"])", "$(headers['x-y'])", "$(query_params.q)", "$(uri_captures.user1)", "$(uri_captures[1])",
        "$(uri_captures.user1 or 'default1')", "$('$(uri_captures.user1)')", "plain text", "a $ sign", "prefix-$(headers.x)-suffix",
    ])
    func accepted(_ value: String) {
        guard case .success = TransformerTemplate.parse(value) else {
            Issue.record("\(value) refused")
            return
        }
    }

    @Test(arguments: ["$(10 * uri_captures.user1)", "$(ERROR())", "$(string.sub(headers.x, 1, 2))", "$(shared.my_version)", "$(uri_captures.1)"])
    func refused(_ value: String) {
        guard case .failure = TransformerTemplate.parse(value) else {
            Issue.record("\(value) accepted")
            return
        }
    }

    @Test func aConfigWithOneIsRefusedWithKongsMessageAndTheReason() {
        var found: [ConfigError] = []
        do {
            _ = try ConfigLoader.parse(text: """
            _format_version: "3.0"
            plugins:
              - name: request-transformer
                config: {add: {headers: ["x-a:$(foo(headers.x))"]}, replace: {uri: "/v2/$(10 * uri_captures.n)"}}
            """, file: "kong.yml")
        } catch {
            found = error.errors
        }
        #expect(found.map(\.path) == ["plugins[0].config.add.headers[0]", "plugins[0].config.replace.uri"])
        #expect(found.first?.message.hasPrefix("value '$(foo(headers.x))' is not in supported format, error:template $(foo(headers.x)) can not be evaluated") == true)
    }
}

/// request-termination's config checks (`kong/plugins/request-termination/schema.lua`).
@Suite struct RequestTerminationSchemaTests {
    func messages(_ config: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(text: "_format_version: \"3.0\"\nplugins: [{name: request-termination, config: \(config)}]", file: "kong.yml")
            return []
        } catch {
            return error.errors.map(\.message)
        }
    }

    @Test func kongsChecks() {
        #expect(messages("{}").isEmpty)
        #expect(messages("{message: m, body: b}") == ["message cannot be used with content_type or body"])
        #expect(messages("{content_type: text/plain}") == ["content_type requires a body"])
        #expect(messages("{echo: true, body: b}") == ["echo cannot be used with content_type and body"])
        #expect(messages("{status_code: 600}") == ["value should be between 100 and 599"])
    }
}
