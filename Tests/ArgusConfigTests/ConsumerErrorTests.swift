import Testing
@testable import ArgusConfig

@Suite struct ConsumerErrorTests {
    static let cases: [ErrorCase] = [
        ErrorCase("consumers: [{tags: [a]}]", "consumers[0]", "at least one of these fields must be non-empty: 'custom_id', 'username'"),
        ErrorCase("consumers: [{username: 5}]", "consumers[0].username", "expected a string"),
        ErrorCase("consumers: [{username: a}, {username: a}]", "consumers[1]",
                  "uniqueness violation: 'consumers' entity with username set to 'a' already declared"),
        ErrorCase("consumers: [{username: a, custom_id: c}, {username: b, custom_id: c}]", "consumers[1]",
                  "uniqueness violation: 'consumers' entity with custom_id set to 'c' already declared"),
        ErrorCase("consumers: [{username: a, acls: [{}]}]", "consumers[0].acls[0].group", "required field missing"),
        ErrorCase("consumers: [{username: a, acls: [{group: g, consumer: a}]}]", "consumers[0].acls[0].consumer", "value must be null"),
        ErrorCase("keyauth_credentials: [{key: k}]", "keyauth_credentials[0].consumer", "required field missing"),
        ErrorCase("keyauth_credentials: [{key: k, consumer: bob}]", "keyauth_credentials[0].consumer",
                  "invalid reference 'consumer: bob' (no such entry in 'consumers')"),
        ErrorCase("consumers: [{username: a, keyauth_credentials: [{key: k, ttl: -1}]}]", "consumers[0].keyauth_credentials[0].ttl",
                  "value should be between 0 and 2147483647"),
        ErrorCase("consumers: [{username: a, keyauth_credentials: [{key: k}]}, {username: b, keyauth_credentials: [{key: k}]}]",
                  "consumers[1].keyauth_credentials[0]",
                  "uniqueness violation: 'keyauth_credentials' entity with key set to 'k' already declared"),
        ErrorCase("consumers: [{username: a, jwt_secrets: [{algorithm: XX256}]}]", "consumers[0].jwt_secrets[0].algorithm",
                  "expected one of: HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512, EdDSA"),
        // Kong verifies Ed448 keys with OpenSSL; Argus can not (swift-crypto): refused at load, not failing every request
        ErrorCase("consumers: [{username: a, jwt_secrets: [{algorithm: EdDSA, rsa_public_key: \"-----BEGIN PUBLIC KEY-----\\nMEMwBQYDK2VxAzoA39l5xbf9/12J01Siq5pXHFpexkGbW2RH9A+ExJnLEd0gIR+P\\ndbVrGc1KBUNF0g84aXtPVzf1jH8A\\n-----END PUBLIC KEY-----\\n\"}]}]",
                  "consumers[0].jwt_secrets[0].rsa_public_key", "Ed448 keys are not supported by Argus (EdDSA with an Ed25519 key is)"),
        ErrorCase("consumers: [{username: a, jwt_secrets: [{algorithm: RS256}]}]", "consumers[0].jwt_secrets[0].rsa_public_key",
                  "required field missing"),
        ErrorCase("consumers: [{username: a, basicauth_credentials: [{username: u}]}]", "consumers[0].basicauth_credentials[0].password",
                  "required field missing"),
        ErrorCase("consumers: [{username: a, basicauth_credentials: [{username: u, password: p, salt: x}]}]",
                  "consumers[0].basicauth_credentials[0].salt", "unknown field"),
        ErrorCase("consumers: [{username: a, acls: [{group: g}]}]\nacls: [{consumer: a, group: g}]", "acls[0]",
                  "uniqueness violation: 'acls' entity with group set to 'g' already declared for this consumer"),
    ]

    @Test(arguments: cases) func rejects(_ c: ErrorCase) {
        #expect(errors(c.document) == c.expected)
    }

    @Test func duplicateNestedAclCollidesOnItsGeneratedID() throws {
        let found = errors("_format_version: \"3.0\"\nconsumers: [{username: a, acls: [{group: g}, {group: g}]}]")
        let consumerID = EntityIDs.generate(entity: "consumers", key: "a")
        let aclID = EntityIDs.generate(entity: "acls", key: "acls:*:\(consumerID):g")
        #expect(found == [ConfigError(file: "kong.yml", path: "consumers[0].acls[1]",
                                      message: "uniqueness violation: 'acls' entity with primary key set to '\(aclID)' already declared")])
    }

    @Test func missingKeysAreGenerated() throws {
        let config = try load("_format_version: \"3.0\"\nconsumers: [{username: a, keyauth_credentials: [{}], jwt_secrets: [{}]}]")
        #expect(config.credentials.allSatisfy { ($0.fields["key"]?.stringValue?.count ?? 0) == 32 })
        #expect(config.credentials[1].fields["secret"]?.stringValue?.count == 32)
        #expect(config.credentials[1].fields["algorithm"] == .string("HS256"))
    }

    @Test func transformFalseKeepsPasswordsAsGiven() throws {
        let config = try load("""
            _format_version: "3.0"
            _transform: false
            consumers: [{username: a, basicauth_credentials: [{username: u, password: already-hashed}]}]
            """)
        #expect(config.credentials[0].fields["password"] == .string("already-hashed"))
    }
}
