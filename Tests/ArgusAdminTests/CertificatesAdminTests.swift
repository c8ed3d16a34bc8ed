import ArgusConfig
import Foundation
import Testing
@testable import ArgusAdmin

/// `/certificates` and `/snis`: the cases of Kong's
/// `spec/02-integration/04-admin_api/06-certificates_routes_spec.lua` (JSON bodies; form bodies
/// for the shorthand), against the store on a real SQLite file.
@Suite struct CertificatesAdminTests {
    let admin = AdminAPITests()

    static func fixture(_ name: String) -> String {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: tests.appendingPathComponent("Fixtures/tls/\(name)"), encoding: .utf8)) ?? ""
    }

    static let cert = fixture("server-rsa.pem"), key = fixture("server-rsa.key")
    static let certAlt = fixture("server-ecdsa.pem"), keyAlt = fixture("server-ecdsa.key")

    static func body(cert: String = cert, key: String = key, snis: [String]? = nil, alt: Bool = false) -> String {
        var fields: [String: JSONValue] = ["cert": .string(cert), "key": .string(key)]
        if let snis { fields["snis"] = .array(snis.map(JSONValue.string)) }
        if alt {
            fields["cert_alt"] = .string(certAlt)
            fields["key_alt"] = .string(keyAlt)
        }
        return JSONText.encode(.object(fields))
    }

    func names(_ body: JSONValue) -> [String]? { body["snis"]?.arrayValue?.compactMap(\.stringValue) }

    @Test func postListsTheNamesSortedAndRefusesDuplicatesAndTakenNames() async throws {
        try await admin.withFixture { f in
            let (status, created) = await admin.call(f, "POST", "/certificates", json: Self.body(snis: ["b.test", "a.test"]))
            #expect(status == 201)
            #expect(names(created) == ["a.test", "b.test"])
            #expect(created["cert_alt"] == .null && created["key_alt"] == .null)
            let (s2, duplicated) = await admin.call(f, "POST", "/certificates", json: Self.body(snis: ["c.test", "d.test", "c.test"]))
            #expect(s2 == 400)
            #expect(duplicated["message"]?.stringValue == "schema violation (snis: c.test is duplicated)")
            let (s3, taken) = await admin.call(f, "POST", "/certificates", json: Self.body(snis: ["a.test", "e.test"]))
            #expect(s3 == 400)
            let id = created["id"]?.stringValue ?? ""
            #expect(taken["message"]?.stringValue == "schema violation (snis: a.test already associated with existing certificate '\(id)')")
            let (_, snis) = await admin.call(f, "GET", "/snis")
            #expect(Set(snis["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []) == ["a.test", "b.test"])
            let (s4, none) = await admin.call(f, "POST", "/certificates", json: Self.body())
            #expect(s4 == 201 && names(none) == [])
            // the shorthand in a form body
            let form = "cert=\(FormBody.escape(Self.cert))&key=\(FormBody.escape(Self.key))&snis=f.test"
            let (s5, fromForm) = await admin.call(f, "POST", "/certificates", form: form)
            #expect(s5 == 201 && names(fromForm) == ["f.test"])
        }
    }

    @Test func aCertificateIsAddressedByIdOrByOneOfItsNames() async throws {
        try await admin.withFixture { f in
            let (_, created) = await admin.call(f, "POST", "/certificates", json: Self.body(snis: ["a.test", "b.test"], alt: true))
            let id = created["id"]?.stringValue ?? ""
            let (s1, byID) = await admin.call(f, "GET", "/certificates/\(id)")
            let (s2, byName) = await admin.call(f, "GET", "/certificates/b.test")
            #expect(s1 == 200 && s2 == 200 && byID == byName)
            #expect(byID["cert_alt"]?.stringValue == Self.certAlt)
            let (s3, unknownID) = await admin.call(f, "GET", "/certificates/585e4c16-c656-11e6-8db9-5f512d8a12cd")
            #expect(s3 == 404 && unknownID["code"] == .int(6))
            let (s4, unknownName) = await admin.call(f, "GET", "/certificates/doesntexist.test")
            #expect(s4 == 404 && unknownName["message"]?.stringValue == "SNI not found")
            let (s5, invalid) = await admin.call(f, "GET", "/certificates/foo:80")
            #expect(s5 == 400 && invalid == .object([
                "code": .int(10), "name": .string("invalid unique name"), "message": .string("must not have a port"),
            ]))
        }
    }

    @Test func putCreatesOrReplacesAndSetsTheNames() async throws {
        try await admin.withFixture { f in
            let id = "5d5a1d86-3b8e-4c57-9b0a-6a3a5f1c0a11"
            let (s1, created) = await admin.call(f, "PUT", "/certificates/\(id)", json: Self.body(snis: ["a.test"]))
            #expect(s1 == 200 && names(created) == ["a.test"])
            let (s2, byName) = await admin.call(f, "PUT", "/certificates/a.test", json: Self.body(snis: ["b.test"]))
            #expect(s2 == 200 && names(byName) == ["a.test", "b.test"] && byName["id"]?.stringValue == id)
            let (s3, cleared) = await admin.call(f, "PUT", "/certificates/\(id)", json: Self.body(cert: Self.certAlt, key: Self.keyAlt))
            #expect(s3 == 200 && names(cleared) == [] && cleared["cert"]?.stringValue == Self.certAlt)
            // PUT by a name without `snis`: Kong removes every name, that one too
            _ = await admin.call(f, "PATCH", "/certificates/\(id)", json: #"{"snis": ["p.test"]}"#)
            let (_, byNameNoList) = await admin.call(f, "PUT", "/certificates/p.test", json: Self.body())
            #expect(names(byNameNoList) == [])
            let (s4, empty) = await admin.call(f, "PUT", "/certificates/\(id)", json: "{}")
            #expect(s4 == 400)
            #expect(empty["message"]?.stringValue == "2 schema violations (cert: required field missing; key: required field missing)")
            let (s5, half) = await admin.call(
                f, "PUT", "/certificates/\(id)",
                json: JSONText.encode(.object(["cert": .string(Self.cert), "key": .string(Self.key), "cert_alt": .string(Self.certAlt)])))
            #expect(s5 == 400 && half["fields"]?["@entity"] == .array([.string("all or none of these fields must be set: 'cert_alt', 'key_alt'")]))
        }
    }

    @Test func kongsEntityChecksAreSchemaViolations() async throws {
        try await admin.withFixture { f in
            let (s1, mismatch) = await admin.call(f, "POST", "/certificates", json: Self.body(key: Self.keyAlt))
            #expect(s1 == 400 && mismatch["message"]?.stringValue == "schema violation (certificate does not match key)")
            #expect(mismatch["fields"]?["@entity"] == .array([.string("certificate does not match key")]))
            let sameType = JSONText.encode(.object([
                "cert": .string(Self.cert), "key": .string(Self.key), "cert_alt": .string(Self.cert), "key_alt": .string(Self.key),
            ]))
            let (s2, same) = await admin.call(f, "POST", "/certificates", json: sameType)
            #expect(s2 == 400 && same["message"]?.stringValue?.contains("need to have different type (e.g. RSA and ECDSA)") == true)
            let (_, list) = await admin.call(f, "GET", "/certificates")
            #expect(list["data"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func patchKeepsReplacesOrClearsTheNames() async throws {
        try await admin.withFixture { f in
            let (_, one) = await admin.call(f, "POST", "/certificates", json: Self.body(snis: ["a.test", "b.test"]))
            let (_, two) = await admin.call(f, "POST", "/certificates", json: Self.body(snis: ["c.test"]))
            let id = one["id"]?.stringValue ?? ""
            let (s1, kept) = await admin.call(f, "PATCH", "/certificates/\(id)", json: "{}")
            #expect(s1 == 200 && names(kept) == ["a.test", "b.test"])
            let (s2, replaced) = await admin.call(f, "PATCH", "/certificates/a.test", json: #"{"snis": ["n1.test"]}"#)
            #expect(s2 == 200 && names(replaced) == ["n1.test"])
            let (_, other) = await admin.call(f, "GET", "/certificates/\(two["id"]?.stringValue ?? "")")
            #expect(names(other) == ["c.test"])
            let (s3, dup) = await admin.call(f, "PATCH", "/certificates/\(id)", json: #"{"snis": ["x.test", "x.test"]}"#)
            #expect(s3 == 400 && dup["message"]?.stringValue == "schema violation (snis: x.test is duplicated)")
            let (s4, taken) = await admin.call(f, "PATCH", "/certificates/\(id)", json: #"{"snis": ["c.test"]}"#)
            #expect(s4 == 400 && taken["message"]?.stringValue
                == "schema violation (snis: c.test already associated with existing certificate '\(two["id"]?.stringValue ?? "")')")
            let (s5, cleared) = await admin.call(f, "PATCH", "/certificates/\(id)", json: #"{"snis": null}"#)
            #expect(s5 == 200 && names(cleared) == [])
            let (s6, _) = await admin.call(f, "PATCH", "/certificates/585e4c16-c656-11e6-8db9-5f512d8a12cd", json: #"{"snis": ["z.test"]}"#)
            #expect(s6 == 404)
            let (_, z) = await admin.call(f, "GET", "/snis/z.test")
            #expect(z["name"] == nil)
        }
    }

    @Test func deleteByNameOrIdTakesTheNamesAlong() async throws {
        try await admin.withFixture { f in
            let (_, one) = await admin.call(f, "POST", "/certificates", json: Self.body(snis: ["a.test", "b.test"]))
            let (s1, _) = await admin.call(f, "DELETE", "/certificates/a.test")
            #expect(s1 == 204)
            let (_, snis) = await admin.call(f, "GET", "/snis")
            #expect(snis["data"]?.arrayValue?.isEmpty == true)
            let (s2, _) = await admin.call(f, "GET", "/certificates/\(one["id"]?.stringValue ?? "")")
            #expect(s2 == 404)
            let (s3, _) = await admin.call(f, "DELETE", "/certificates/585e4c16-c656-11e6-8db9-5f512d8a12cd")
            #expect(s3 == 204)
        }
    }

    @Test func theNestedAndTopLevelSNIEndpoints() async throws {
        try await admin.withFixture { f in
            let (_, one) = await admin.call(f, "POST", "/certificates", json: Self.body(snis: ["a.test"]))
            let (_, two) = await admin.call(f, "POST", "/certificates", json: Self.body())
            let id = one["id"]?.stringValue ?? "", id2 = two["id"]?.stringValue ?? ""
            let (s1, missing) = await admin.call(f, "POST", "/certificates/585e4c16-c656-11e6-8db9-5f512d8a12cd/snis", json: #"{"name": "x.test"}"#)
            #expect(s1 == 404 && missing["message"]?.stringValue == "Not found")
            let (s2, nested) = await admin.call(f, "POST", "/certificates/a.test/snis", json: #"{"name": "n1.test"}"#)
            #expect(s2 == 201 && nested["certificate"]?["id"]?.stringValue == id)
            let (s3, conflict) = await admin.call(f, "POST", "/certificates/\(id)/snis", json: #"{"name": "n1.test"}"#)
            #expect(s3 == 409 && conflict["name"]?.stringValue == "unique constraint violation")
            let (_, list) = await admin.call(f, "GET", "/certificates/\(id)/snis")
            #expect(list["data"]?.arrayValue?.count == 2)
            let (s4, _) = await admin.call(f, "POST", "/snis", json: #"{"name": "*.w.test", "certificate": {"id": "\#(id)"}}"#)
            let (s5, _) = await admin.call(f, "POST", "/snis", json: #"{"name": "w.*", "certificate": {"id": "\#(id)"}}"#)
            #expect(s4 == 201 && s5 == 201)
            let (s6, two_wildcards) = await admin.call(f, "POST", "/snis", json: #"{"name": "*.wildcard.*", "certificate": {"id": "\#(id)"}}"#)
            #expect(s6 == 400 && two_wildcards["fields"]?["name"]?.stringValue == "only one wildcard must be specified")
            let (s7, wildcard) = await admin.call(f, "GET", "/snis/%2A.w.test")
            #expect(s7 == 200 && wildcard["name"]?.stringValue == "*.w.test")
            let (s8, empty) = await admin.call(f, "PUT", "/snis/585e4c16-c656-11e6-8db9-5f512d8a12cd", json: "{}")
            #expect(s8 == 400, "\(empty)")
            #expect(empty["message"]?.stringValue
                == "2 schema violations (certificate: required field missing; name: required field missing)")
            // moving a name to another certificate
            let (s9, moved) = await admin.call(f, "PATCH", "/snis/a.test", json: #"{"certificate": {"id": "\#(id2)"}}"#)
            #expect(s9 == 200 && moved["certificate"]?["id"]?.stringValue == id2)
            let (_, first) = await admin.call(f, "GET", "/certificates/\(id)")
            let (_, second) = await admin.call(f, "GET", "/certificates/\(id2)")
            #expect(names(first) == ["*.w.test", "n1.test", "w.*"] && names(second) == ["a.test"])
            let (s10, _) = await admin.call(f, "GET", "/snis/a.test/certificate")
            #expect(s10 == 404)
            let (s11, _) = await admin.call(f, "DELETE", "/snis/a.test")
            #expect(s11 == 204)
        }
    }

    @Test func aCertificateAServicePresentsUpstreamCanNotBeDeleted() async throws {
        try await admin.withFixture { f in
            let (_, cert) = await admin.call(f, "POST", "/certificates", json: Self.body())
            let id = cert["id"]?.stringValue ?? ""
            let (s1, service) = await admin.call(
                f, "POST", "/services", json: #"{"name": "s", "url": "https://example.test", "client_certificate": {"id": "\#(id)"}}"#)
            #expect(s1 == 201 && service["client_certificate"]?["id"]?.stringValue == id)
            let (s2, refused) = await admin.call(f, "DELETE", "/certificates/\(id)")
            #expect(s2 == 400 && refused["name"]?.stringValue == "foreign key violation")
        }
    }
}

/// Form-encoding for the tests' bodies.
enum FormBody {
    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }
}
