import ArgusApp
import ArgusConfig
import Crypto
import Foundation
import Testing
import _CryptoExtras

@Suite("jwt through a real gateway")
struct JWTTests {
    static func b64url(_ bytes: some DataProtocol) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func token(alg: String, claims: String, sign: (Data) throws -> Data) rethrows -> String {
        let signed = b64url(Data("{\"alg\":\"\(alg)\",\"typ\":\"JWT\"}".utf8)) + "." + b64url(Data(claims.utf8))
        return signed + "." + b64url(try sign(Data(signed.utf8)))
    }

    static func hs256(_ claims: String, secret: String) -> String {
        token(alg: "HS256", claims: claims) { Data(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: Data(secret.utf8)))) }
    }

    @Test func hs256TokensAuthenticateAndFailuresAreKongsExitBodies() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let now = Int(Date().timeIntervalSince1970)
        let gw = try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes: [{name: main, paths: ["/"]}]
            consumers:
              - username: carol
                jwt_secrets: [{key: carol-issuer, secret: s3cr3t}]
            plugins:
              - name: jwt
                config: {claims_to_verify: [exp]}
            """)
        defer { Task { await gw.stop(); await backend.stop() } }
        func get(_ token: String?, _ extra: String = "") async throws -> RawClient.Response {
            let auth = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
            return try #require(try await gw.request("GET /x\(extra) HTTP/1.1\r\nHost: x\r\n\(auth)\r\n"))
        }

        let good = Self.hs256("{\"iss\":\"carol-issuer\",\"exp\":\(now + 600)}", secret: "s3cr3t")
        let ok = try await get(good)
        #expect(ok.status == 200)
        let sent = backend.requests.last?.components(separatedBy: "\r\n") ?? []
        #expect(sent.contains("X-Consumer-Username: carol"))
        #expect(sent.contains("X-Credential-Identifier: carol-issuer"))
        // From the query too.
        #expect(try await get(nil, "?jwt=\(good)").status == 200)

        let none = try await get(nil)
        #expect(none.status == 401 && none.bodyString == "{\"message\":\"Unauthorized\"}")
        #expect(none.header("WWW-Authenticate") == "Bearer")
        let forged = try await get(Self.hs256("{\"iss\":\"carol-issuer\",\"exp\":\(now + 600)}", secret: "guess"))
        #expect(forged.status == 401 && forged.bodyString == "{\"message\":\"Invalid signature\"}")
        #expect(forged.header("WWW-Authenticate") == "Bearer error=\"invalid_token\"")
        #expect(try await get(Self.hs256("{\"iss\":\"carol-issuer\",\"exp\":\(now - 5)}", secret: "s3cr3t")).bodyString == "{\"exp\":\"token expired\"}")
        #expect(try await get(Self.hs256("{\"iss\":\"carol-issuer\"}", secret: "s3cr3t")).bodyString == "{\"exp\":\"must be a number\"}")
        #expect(try await get(Self.hs256("{\"iss\":\"mallory\",\"exp\":\(now + 60)}", secret: "s3cr3t")).bodyString
            == "{\"message\":\"No credentials found for given 'iss'\"}")
        #expect(try await get(Self.hs256("{\"sub\":\"x\"}", secret: "s3cr3t")).bodyString == "{\"message\":\"No mandatory 'iss' in claims\"}")
        // Kong's decode_token: anything that does not decode is "invalid JSON" (its 01-jwt_parser spec)
        #expect(try await get("not-a-token").bodyString == "{\"message\":\"Bad token; invalid JSON\"}")
        #expect(try await get("e30.e30").bodyString == "{\"message\":\"Bad token; invalid JSON\"}")
        let wrongAlg = Self.token(alg: "HS512", claims: "{\"iss\":\"carol-issuer\",\"exp\":\(now + 60)}") {
            Data(HMAC<SHA512>.authenticationCode(for: $0, using: SymmetricKey(data: Data("s3cr3t".utf8))))
        }
        #expect(try await get(wrongAlg).bodyString == "{\"message\":\"Invalid algorithm\"}")
        #expect(try await get(nil, "?jwt=a&jwt=b").bodyString == "{\"message\":\"Multiple tokens provided\"}")
        // Kong's retrieve_tokens gathers a set: different tokens from the query and the header are
        // several; the same token twice is one; empty values count for nothing
        #expect(try await get(good, "?jwt=other").bodyString == "{\"message\":\"Multiple tokens provided\"}")
        #expect(try await get(good, "?jwt=\(good)").status == 200)
        #expect(try await get(good, "?jwt=").status == 200)
        #expect(try await get(nil, "?jwt=\(good)&jwt=\(good)").status == 200)
        // `Bearer` anywhere in the header's value (Kong's unanchored match)
        let other = try #require(try await gw.request("GET /x HTTP/1.1\r\nHost: x\r\nAuthorization: Basic abc, Bearer \(good)\r\n\r\n"))
        #expect(other.status == 200)
        #expect(backend.requests.count == 6)
    }

    @Test func rsaAndECDSATokens() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let ec = P256.Signing.PrivateKey()
        func indent(_ pem: String) -> String { pem.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n") }
        let gw = try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes: [{name: main, paths: ["/"]}]
            consumers:
              - username: dave
                jwt_secrets:
                  - key: dave-rsa
                    algorithm: RS256
                    rsa_public_key: |
            \(indent(rsa.publicKey.pemRepresentation))
                  - key: dave-ec
                    algorithm: ES256
                    rsa_public_key: |
            \(indent(ec.publicKey.pemRepresentation))
            plugins:
              - name: jwt
            """)
        defer { Task { await gw.stop(); await backend.stop() } }
        func status(_ token: String) async throws -> Int {
            try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: bearer \(token)\r\n\r\n")).status
        }
        let rs = try Self.token(alg: "RS256", claims: "{\"iss\":\"dave-rsa\"}") {
            try rsa.signature(for: SHA256.hash(data: $0), padding: .insecurePKCS1v1_5).rawRepresentation
        }
        #expect(try await status(rs) == 200)
        let es = try Self.token(alg: "ES256", claims: "{\"iss\":\"dave-ec\"}") { try ec.signature(for: $0).rawRepresentation }
        #expect(try await status(es) == 200)
        // Signed by another key.
        let other = P256.Signing.PrivateKey()
        let bad = try Self.token(alg: "ES256", claims: "{\"iss\":\"dave-ec\"}") { try other.signature(for: $0).rawRepresentation }
        #expect(try await status(bad) == 401)
        #expect(backend.requests.count == 2)
    }

    @Test func es512AndEdDSATokens() async throws {
        let backend = RawBackend.ok()
        let port = try await backend.start()
        let p521 = P521.Signing.PrivateKey()
        let ed = Curve25519.Signing.PrivateKey()
        // Ed25519's SubjectPublicKeyInfo: a fixed prefix, then the 32 key bytes
        let spki = Data([0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]) + ed.publicKey.rawRepresentation
        let edPEM = "-----BEGIN PUBLIC KEY-----\n\(spki.base64EncodedString())\n-----END PUBLIC KEY-----"
        func indent(_ pem: String) -> String { pem.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n") }
        let gw = try await GatewayHarness(yaml: """
            _format_version: "3.0"
            services:
              - name: backend
                url: http://127.0.0.1:\(port)
                routes: [{name: main, paths: ["/"]}]
            consumers:
              - username: erin
                jwt_secrets:
                  - key: erin-p521
                    algorithm: ES512
                    rsa_public_key: |
            \(indent(p521.publicKey.pemRepresentation))
                  - key: erin-ed
                    algorithm: EdDSA
                    rsa_public_key: |
            \(indent(edPEM))
            plugins:
              - name: jwt
            """)
        defer { Task { await gw.stop(); await backend.stop() } }
        func status(_ token: String) async throws -> Int {
            try #require(try await gw.request("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n\r\n")).status
        }
        let es = try Self.token(alg: "ES512", claims: "{\"iss\":\"erin-p521\"}") { try p521.signature(for: $0).rawRepresentation }
        #expect(try await status(es) == 200)
        let eddsa = try Self.token(alg: "EdDSA", claims: "{\"iss\":\"erin-ed\"}") { try ed.signature(for: $0) }
        #expect(try await status(eddsa) == 200)
        let forged = try Self.token(alg: "EdDSA", claims: "{\"iss\":\"erin-ed\"}") { try Curve25519.Signing.PrivateKey().signature(for: $0) }
        #expect(try await status(forged) == 401)
        // the algorithm in the token must be the secret's
        let mismatch = try Self.token(alg: "ES512", claims: "{\"iss\":\"erin-ed\"}") { try p521.signature(for: $0).rawRepresentation }
        #expect(try await status(mismatch) == 401)
        #expect(backend.requests.count == 2)
    }
}
